package topology

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseError is a CLUSTER NODES line that could not be parsed.
type ParseError struct {
	Line int    // 1-based line number
	Text string // the line as given
	Err  error  // what is wrong with it
}

func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

func (e *ParseError) Unwrap() error { return e.Err }

// ParseClusterNodes parses the reply of CLUSTER NODES (also nodes.conf lines
// minus its "vars" line), one node per line, in the order given.
//
// A malformed line is an error naming its line number; trailing empty lines
// are fine. The parse is strict about what Redis 7.0 prints
// (clusterGenNodeDescription in cluster.c), so that Line gives back the same
// text. It is lenient where Redis does not validate: the IP is whatever
// cluster-announce-ip says, and unknown flags are kept.
func ParseClusterNodes(s string) ([]ClusterNode, error) {
	lines := strings.Split(s, "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	nodes := make([]ClusterNode, 0, len(lines))
	seen := map[string]int{} // node ID -> line number
	myself := 0
	for i, text := range lines {
		n, err := parseNodeLine(text)
		if err == nil {
			if first, dup := seen[n.ID]; dup {
				err = fmt.Errorf("node id %s: already on line %d", n.ID, first)
			} else if n.Has("myself") && myself != 0 {
				err = fmt.Errorf("second node flagged myself (first on line %d)", myself)
			}
		}
		if err != nil {
			return nil, &ParseError{Line: i + 1, Text: text, Err: err}
		}
		seen[n.ID] = i + 1
		if n.Has("myself") {
			myself = i + 1
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// Myself returns the node flagged myself: the node that answered.
func Myself(nodes []ClusterNode) (ClusterNode, bool) {
	for _, n := range nodes {
		if n.Has("myself") {
			return n, true
		}
	}
	return ClusterNode{}, false
}

// Line prints the node back in CLUSTER NODES format, without the newline.
// The address is printed from IP, Port, BusPort and Hostname (Addr is not
// read), no flags as "noflags" and no master as "-". For a node that
// ParseClusterNodes returned, Line is the line it was parsed from, up to
// spacing and a one-slot range written N-N.
func (n ClusterNode) Line() string {
	var b strings.Builder
	b.WriteString(n.ID)
	b.WriteByte(' ')
	b.WriteString(n.IP)
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(n.Port))
	b.WriteByte('@')
	b.WriteString(strconv.Itoa(n.BusPort))
	if n.Hostname != "" {
		b.WriteByte(',')
		b.WriteString(n.Hostname)
	}
	b.WriteByte(' ')
	if len(n.Flags) == 0 {
		b.WriteString("noflags")
	} else {
		b.WriteString(strings.Join(n.Flags, ","))
	}
	b.WriteByte(' ')
	if n.MasterID == "" {
		b.WriteByte('-')
	} else {
		b.WriteString(n.MasterID)
	}
	fmt.Fprintf(&b, " %d %d %d %s", n.PingSent, n.PongRecv, n.ConfigEpoch, n.LinkState)
	for _, r := range n.Slots {
		if r.Start == r.End {
			fmt.Fprintf(&b, " %d", r.Start)
		} else {
			fmt.Fprintf(&b, " %d-%d", r.Start, r.End)
		}
	}
	for _, o := range n.Open {
		arrow := "-<-"
		if o.Migrating {
			arrow = "->-"
		}
		fmt.Fprintf(&b, " [%d%s%s]", o.Slot, arrow, o.Peer)
	}
	return b.String()
}

// Field positions of a CLUSTER NODES line; slots follow from fieldSlots on.
const (
	fieldID = iota
	fieldAddr
	fieldFlags
	fieldMaster
	fieldPingSent
	fieldPongRecv
	fieldConfigEpoch
	fieldLinkState
	fieldSlots
)

func parseNodeLine(text string) (ClusterNode, error) {
	f := strings.Fields(text)
	if len(f) == 0 {
		return ClusterNode{}, errors.New("empty line")
	}
	if f[0] == "vars" {
		// nodes.conf ends with "vars currentEpoch N lastVoteEpoch M".
		return ClusterNode{}, errors.New(`"vars" line of nodes.conf: drop it before parsing`)
	}
	if len(f) < fieldSlots {
		return ClusterNode{}, fmt.Errorf("want at least %d fields, got %d", fieldSlots, len(f))
	}
	var n ClusterNode
	var err error
	if !validNodeID(f[fieldID]) {
		return n, fmt.Errorf("node id %q: want 40 lowercase hex characters", f[fieldID])
	}
	n.ID = f[fieldID]
	if err := n.parseAddr(f[fieldAddr]); err != nil {
		return n, fmt.Errorf("address %q: %w", f[fieldAddr], err)
	}
	if n.Flags, err = parseFlags(f[fieldFlags]); err != nil {
		return n, fmt.Errorf("flags %q: %w", f[fieldFlags], err)
	}
	switch m := f[fieldMaster]; {
	case m == "-":
	case validNodeID(m):
		n.MasterID = m
	default:
		return n, fmt.Errorf("master %q: want - or 40 lowercase hex characters", m)
	}
	for _, c := range []struct {
		name string
		text string
		dst  *int64
	}{
		{"ping-sent", f[fieldPingSent], &n.PingSent},
		{"pong-recv", f[fieldPongRecv], &n.PongRecv},
		{"config-epoch", f[fieldConfigEpoch], &n.ConfigEpoch},
	} {
		v, ok := parseDecimal(c.text, math.MaxInt64)
		if !ok {
			return n, fmt.Errorf("%s %q: want a decimal number from 0 to %d", c.name, c.text, int64(math.MaxInt64))
		}
		*c.dst = v
	}
	switch l := f[fieldLinkState]; l {
	case "connected", "disconnected":
		n.LinkState = l
	default:
		return n, fmt.Errorf("link-state %q: want connected or disconnected", l)
	}
	for _, s := range f[fieldSlots:] {
		if strings.HasPrefix(s, "[") {
			o, err := parseOpenSlot(s)
			if err != nil {
				return n, fmt.Errorf("open slot %q: %w", s, err)
			}
			n.Open = append(n.Open, o)
			continue
		}
		r, err := parseSlotRange(s)
		if err != nil {
			return n, fmt.Errorf("slot %q: %w", s, err)
		}
		// Redis prints ranges in slot order (it walks slots 0..16383), so an
		// overlap or a step back means a corrupt line, not a new format.
		if k := len(n.Slots); k > 0 && r.Start <= n.Slots[k-1].End {
			prev := n.Slots[k-1]
			return n, fmt.Errorf("slot %q: overlaps or precedes %d-%d", s, prev.Start, prev.End)
		}
		n.Slots = append(n.Slots, r)
	}
	return n, nil
}

// parseAddr fills Addr, IP, Port, BusPort and Hostname from
// ip:port@cport[,hostname]. Redis prints IPv6 without brackets
// (::1:6379@16379), so the IP ends at the last colon before '@'. The IP is
// empty for noaddr nodes (:0@0) and for a node that has not yet learned its
// own address from a peer (:6379@16379).
func (n *ClusterNode) parseAddr(addr string) error {
	hostport, hostname, hasHostname := strings.Cut(addr, ",")
	if hasHostname {
		switch {
		case strings.Contains(hostname, ","):
			// Redis 7.2 nodes.conf (not its CLUSTER NODES) appends aux
			// fields here: ip:port@cport,[hostname],shard-id=...
			return errors.New(`more than one ",": aux fields of Redis 7.2+ nodes.conf are not supported`)
		case hostname == "":
			return errors.New(`empty hostname after ","`)
		case strings.ContainsAny(hostname, "@[]"):
			return fmt.Errorf("hostname %q: unexpected character", hostname)
		}
	}
	ipport, cport, ok := strings.Cut(hostport, "@")
	if !ok {
		return errors.New("want ip:port@cport")
	}
	colon := strings.LastIndexByte(ipport, ':')
	if colon < 0 {
		return errors.New("want ip:port@cport")
	}
	ip, port := ipport[:colon], ipport[colon+1:]
	if strings.ContainsAny(ip, "[]") {
		return errors.New("bracketed IP: Redis prints IPv6 as ::1:6379@16379")
	}
	p, ok := parseDecimal(port, math.MaxUint16)
	if !ok {
		return fmt.Errorf("port %q: want a decimal number from 0 to 65535", port)
	}
	c, ok := parseDecimal(cport, math.MaxUint16)
	if !ok {
		return fmt.Errorf("cluster bus port %q: want a decimal number from 0 to 65535", cport)
	}
	n.Addr, n.IP, n.Port, n.BusPort, n.Hostname = addr, ip, int(p), int(c), hostname
	return nil
}

// parseFlags splits the flags field. "noflags" is kept as a flag, as Redis
// prints it; unknown flags are kept too, for newer Redis versions.
func parseFlags(s string) ([]string, error) {
	flags := strings.Split(s, ",")
	for _, f := range flags {
		if f == "" {
			return nil, errors.New("empty flag")
		}
		for _, c := range []byte(f) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '?' || c == '-' || c == '_') {
				return nil, fmt.Errorf("flag %q: unexpected character %q", f, c)
			}
		}
	}
	return flags, nil
}

// parseSlotRange parses "N" or "N-M".
func parseSlotRange(s string) (SlotRange, error) {
	start, end, isRange := strings.Cut(s, "-")
	a, err := parseSlot(start)
	if err != nil {
		return SlotRange{}, err
	}
	if !isRange {
		return SlotRange{a, a}, nil
	}
	b, err := parseSlot(end)
	if err != nil {
		return SlotRange{}, err
	}
	if a > b {
		return SlotRange{}, fmt.Errorf("range start %d after end %d", a, b)
	}
	return SlotRange{a, b}, nil
}

// parseOpenSlot parses "[N->-id]" (migrating to id) and "[N-<-id]"
// (importing from id).
func parseOpenSlot(s string) (OpenSlot, error) {
	inner, ok := strings.CutPrefix(s, "[")
	if ok {
		inner, ok = strings.CutSuffix(inner, "]")
	}
	if !ok {
		return OpenSlot{}, errors.New("want [slot->-id] or [slot-<-id]")
	}
	o := OpenSlot{Migrating: true}
	slot, peer, ok := strings.Cut(inner, "->-")
	if !ok {
		o.Migrating = false
		if slot, peer, ok = strings.Cut(inner, "-<-"); !ok {
			return OpenSlot{}, errors.New("want [slot->-id] or [slot-<-id]")
		}
	}
	var err error
	if o.Slot, err = parseSlot(slot); err != nil {
		return OpenSlot{}, err
	}
	if !validNodeID(peer) {
		return OpenSlot{}, fmt.Errorf("node id %q: want 40 lowercase hex characters", peer)
	}
	o.Peer = peer
	return o, nil
}

func parseSlot(s string) (int, error) {
	v, ok := parseDecimal(s, math.MaxInt32)
	if !ok {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	if v >= SlotCount {
		return 0, fmt.Errorf("%d is out of range 0-%d", v, SlotCount-1)
	}
	return int(v), nil
}

// parseDecimal parses a non-negative decimal number no greater than max,
// written as Redis writes one: digits only, no sign, no leading zero. The
// strictness keeps Line's output equal to its input.
func parseDecimal(s string, max int64) (int64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v > max {
		return 0, false
	}
	return v, true
}

// validNodeID tells whether s is a node ID: 40 lowercase hex characters, as
// Redis generates them (getRandomHexChars). Redis's own check,
// verifyClusterNodeId, lets any [a-z0-9] through; no Redis prints such an ID.
func validNodeID(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
