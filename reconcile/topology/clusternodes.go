package topology

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
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
	end := len(s) // the end of the last line that is not blank
	for end >= 0 {
		start := strings.LastIndexByte(s[:end], '\n') + 1
		if strings.TrimSpace(s[start:end]) != "" {
			break
		}
		end = start - 1
	}
	if end < 0 {
		return make([]ClusterNode, 0), nil
	}
	s = s[:end]
	count := strings.Count(s, "\n") + 1
	nodes := make([]ClusterNode, 0, count)
	// At 1000 nodes a pass parses a million lines: the lines share a
	// parser, and their node IDs are checked for repeats by a table sized
	// once.
	p := newLineParser(count)
	seen := newIDSet(count)
	myself := 0
	for i := range count {
		var text string
		text, s, _ = strings.Cut(s, "\n")
		nodes = nodes[:i+1] // a zero node: make cleared it
		n := &nodes[i]
		err := p.parse(n, text)
		me := err == nil && n.Has("myself")
		if err == nil {
			if first := seen.add(n.ID, i+1); first != 0 {
				err = fmt.Errorf("node id %s: already on line %d", n.ID, first)
			} else if me && myself != 0 {
				err = fmt.Errorf("second node flagged myself (first on line %d)", myself)
			}
		}
		if err != nil {
			return nil, &ParseError{Line: i + 1, Text: text, Err: err}
		}
		if me {
			myself = i + 1
		}
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

// lineParser parses the lines of one reply. The fields of a line are cut
// into one buffer reused from line to line, and the nodes' flags and slots
// into shared arrays, each node's part capped (a full slice expression) so
// that an append to one never writes over the next: a few allocations a
// reply instead of three a line.
type lineParser struct {
	fields []string
	flags  []string
	slots  []SlotRange
	chunk  int // the size of a new shared array
}

func newLineParser(lines int) *lineParser {
	return &lineParser{chunk: max(lines, 8)}
}

// parse fills n, a zero node, from one line.
func (p *lineParser) parse(n *ClusterNode, text string) error {
	p.fields = appendFields(p.fields[:0], text)
	f := p.fields
	if len(f) == 0 {
		return errors.New("empty line")
	}
	if f[0] == "vars" {
		// nodes.conf ends with "vars currentEpoch N lastVoteEpoch M".
		return errors.New(`"vars" line of nodes.conf: drop it before parsing`)
	}
	if len(f) < fieldSlots {
		return fmt.Errorf("want at least %d fields, got %d", fieldSlots, len(f))
	}
	var err error
	if !validNodeID(f[fieldID]) {
		return fmt.Errorf("node id %q: want 40 lowercase hex characters", f[fieldID])
	}
	n.ID = f[fieldID]
	if err := n.parseAddr(f[fieldAddr]); err != nil {
		return fmt.Errorf("address %q: %w", f[fieldAddr], err)
	}
	if n.Flags, err = p.parseFlags(f[fieldFlags]); err != nil {
		return fmt.Errorf("flags %q: %w", f[fieldFlags], err)
	}
	switch m := f[fieldMaster]; {
	case m == "-":
	case validNodeID(m):
		n.MasterID = m
	default:
		return fmt.Errorf("master %q: want - or 40 lowercase hex characters", m)
	}
	for _, c := range [...]struct {
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
			return fmt.Errorf("%s %q: want a decimal number from 0 to %d", c.name, c.text, int64(math.MaxInt64))
		}
		*c.dst = v
	}
	switch l := f[fieldLinkState]; l {
	case "connected", "disconnected":
		n.LinkState = l
	default:
		return fmt.Errorf("link-state %q: want connected or disconnected", l)
	}
	if len(f) == fieldSlots {
		return nil
	}
	p.reserveSlots(len(f) - fieldSlots)
	first := len(p.slots)
	for _, s := range f[fieldSlots:] {
		if strings.HasPrefix(s, "[") {
			o, err := parseOpenSlot(s)
			if err != nil {
				return fmt.Errorf("open slot %q: %w", s, err)
			}
			n.Open = append(n.Open, o)
			continue
		}
		r, err := parseSlotRange(s)
		if err != nil {
			return fmt.Errorf("slot %q: %w", s, err)
		}
		// Redis prints ranges in slot order (it walks slots 0..16383), so an
		// overlap or a step back means a corrupt line, not a new format.
		if k := len(p.slots); k > first && r.Start <= p.slots[k-1].End {
			prev := p.slots[k-1]
			return fmt.Errorf("slot %q: overlaps or precedes %d-%d", s, prev.Start, prev.End)
		}
		p.slots = append(p.slots, r)
	}
	if k := len(p.slots); k > first {
		n.Slots = p.slots[first:k:k]
	}
	return nil
}

// reserveSlots makes room for k more slot ranges in the shared array.
func (p *lineParser) reserveSlots(k int) {
	if cap(p.slots)-len(p.slots) < k {
		p.slots = make([]SlotRange, 0, max(k, p.chunk))
	}
}

// appendFields appends the fields of s, as strings.Fields splits them.
func appendFields(dst []string, s string) []string {
	first, start := len(dst), -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return append(dst[:first], strings.Fields(s)...) // Unicode spaces
		}
		if asciiSpace[c] {
			if start >= 0 {
				dst = append(dst, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, s[start:])
	}
	return dst
}

// asciiSpace is the ASCII white space strings.Fields splits on.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// idSet finds a node ID seen on an earlier line, by open addressing.
type idSet struct {
	ids   []string
	lines []int // the 1-based line of each ID; 0: an empty entry
	mask  uint64
}

var idSeed = maphash.MakeSeed()

func newIDSet(n int) *idSet {
	size := 16
	for size < 2*n {
		size *= 2
	}
	return &idSet{ids: make([]string, size), lines: make([]int, size), mask: uint64(size - 1)}
}

// add records id on line, unless it is already there: then it returns the
// line it was first on (else 0).
func (s *idSet) add(id string, line int) int {
	for i := maphash.String(idSeed, id) & s.mask; ; i = (i + 1) & s.mask {
		switch {
		case s.lines[i] == 0:
			s.ids[i], s.lines[i] = id, line
			return 0
		case s.ids[i] == id:
			return s.lines[i]
		}
	}
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
		case containsAnyByte(hostname, "@[]"):
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
	if containsAnyByte(ip, "[]") {
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

// containsAnyByte is strings.ContainsAny for ASCII chars, without its
// set of runes built per call.
func containsAnyByte(s, chars string) bool {
	for i := 0; i < len(chars); i++ {
		if strings.IndexByte(s, chars[i]) >= 0 {
			return true
		}
	}
	return false
}

// parseFlags splits the flags field. "noflags" is kept as a flag, as Redis
// prints it; unknown flags are kept too, for newer Redis versions.
func (p *lineParser) parseFlags(s string) ([]string, error) {
	k := strings.Count(s, ",") + 1
	if cap(p.flags)-len(p.flags) < k {
		p.flags = make([]string, 0, max(k, 2*p.chunk))
	}
	first := len(p.flags)
	for {
		f, rest, more := strings.Cut(s, ",")
		p.flags = append(p.flags, f)
		if !more {
			break
		}
		s = rest
	}
	flags := p.flags[first:len(p.flags):len(p.flags)]
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
	var v int64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v > max/10 || v == max/10 && d > max%10 {
			return 0, false
		}
		v = v*10 + d
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
		if !lowerHex[c] {
			return false
		}
	}
	return true
}

// lowerHex tells the bytes of a node ID: 0-9 and a-f.
var lowerHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdef" {
		t[c] = true
	}
	return t
}()
