package adopt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/rediserr"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// ReadOptions say where Read finds the cluster.
type ReadOptions struct {
	// From is the first node: "HOST:PORT", or "pod/NAME" (a pod of
	// Namespace, reached at its pod IP). Required.
	From string
	// Namespace is where pods, StatefulSets and Secrets are looked up.
	// Default "default".
	Namespace string
	// Port is the client port of a pod reference. Default 6379
	// (spec.DefaultAdoptPort).
	Port int
	// Client reads the pod, its StatefulSet and the password Secret. Nil:
	// none are read, and From must be HOST:PORT without a password Secret.
	Client kubernetes.Interface
	// Dial opens an admin connection with a password ("" for none).
	// Default: converge.RedisDialer(password, nil), plaintext.
	Dial func(password string) converge.Dialer
	// PasswordSecret names the Secret (in Namespace) holding the old
	// cluster's password. Without it, Read uses the Secret the pod's
	// container takes requirepass from (an environment variable's
	// secretKeyRef), if any. The password is held in memory only.
	PasswordSecret *spec.SecretRef
}

// ErrPasswordRequired: the first node answered NOAUTH, and Read had no
// password to give it.
var ErrPasswordRequired = errors.New("the node requires a password: name the Secret holding it (adopt --password-secret NAME[/KEY])")

// readers bounds how many nodes Read asks at once.
const readers = 8

// Read reads the cluster that From belongs to: the pod and StatefulSet of
// the first node when it finds them, the password from its Secret, then
// INFO server, CONFIG GET *, CLUSTER NODES and MODULE LIST from the first
// node and from every other node its CLUSTER NODES lists, each on its own
// connection. It writes nothing. A node that cannot be read is recorded
// with its error (Spec refuses the cluster); Read itself fails when
// Kubernetes or the Secret cannot be read, on a bad From, and when the
// first node wants a password it lacks or refuses the one given.
func Read(ctx context.Context, o ReadOptions) (Live, error) {
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Port == 0 {
		o.Port = spec.DefaultAdoptPort
	}
	if o.Dial == nil {
		o.Dial = func(password string) converge.Dialer { return converge.RedisDialer(password, nil) }
	}
	live := Live{Namespace: o.Namespace}
	k := &kube{client: o.Client, namespace: o.Namespace}
	addr, err := k.locate(ctx, o.From, o.Port, &live)
	if err != nil {
		return Live{}, err
	}
	_, port, _ := net.SplitHostPort(addr)
	live.Port, _ = strconv.Atoi(port)

	if o.PasswordSecret != nil {
		ref := *o.PasswordSecret
		live.Auth = &ref
	}
	if live.Auth == nil && live.Pod != nil {
		live.Auth = requirepassSecret(live.Pod, live.Port)
	}
	password := ""
	if live.Auth != nil {
		if live.Auth.Key == "" {
			live.Auth.Key = spec.DefaultSecretKey
		}
		if password, err = k.secret(ctx, *live.Auth); err != nil {
			return Live{}, err
		}
	}
	dial := o.Dial(password)
	pods, err := k.podNames(ctx, live.StatefulSet)
	if err != nil {
		return Live{}, err
	}

	first := readNode(ctx, dial, addr)
	first.Pod = pods[host(addr)]
	switch {
	case rediserr.IsAuth(first.Err) && password == "":
		return Live{}, fmt.Errorf("node %s: %w", first.Name(), ErrPasswordRequired)
	case rediserr.IsAuth(first.Err):
		return Live{}, fmt.Errorf("node %s: the password from Secret %s/%s (key %s) is not accepted: %w", first.Name(), o.Namespace, live.Auth.Name, live.Auth.Key, first.Err)
	}
	live.Nodes = []Node{first}
	me, _ := topology.Myself(first.View)
	var others []topology.ClusterNode
	for _, c := range first.View {
		if c.ID != me.ID {
			others = append(others, c)
		}
	}
	rest := make([]Node, len(others))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readers)
	for i, c := range others {
		g.Go(func() error {
			if c.IP == "" {
				rest[i] = Node{Addr: shortID(c.ID), Err: errors.New("has no address in CLUSTER NODES (noaddr)")}
				return nil
			}
			a := net.JoinHostPort(c.IP, strconv.Itoa(c.Port))
			rest[i] = readNode(gctx, dial, a)
			rest[i].Pod = pods[c.IP]
			return nil
		})
	}
	_ = g.Wait() // readNode records its errors in the Node
	live.Nodes = append(live.Nodes, rest...)
	return live, ctx.Err()
}

// readNode asks one node what Spec needs, in order, and stops at the first
// error, which it records.
func readNode(ctx context.Context, dial converge.Dialer, addr string) Node {
	n := Node{Addr: addr}
	c := dial(addr)
	defer c.Close()
	v, err := c.Do(ctx, "INFO", "server")
	if err != nil {
		n.Err = err
		return n
	}
	n.Version = infoField(fmt.Sprint(v), "redis_version")
	if v, err = c.Do(ctx, "CONFIG", "GET", "*"); err != nil {
		n.Err = err
		return n
	}
	n.Config = converge.ConfigMap(v)
	for _, k := range secretSettings {
		if n.Config[k] != "" {
			n.Config[k] = Redacted
		}
	}
	if n.Config["cluster-enabled"] == "no" {
		return n
	}
	if v, err = c.Do(ctx, "CLUSTER", "NODES"); err != nil {
		n.Err = err
		return n
	}
	if n.View, err = topology.ParseClusterNodes(fmt.Sprint(v)); err != nil {
		n.Err = fmt.Errorf("CLUSTER NODES: %w", err)
		return n
	}
	if v, err = c.Do(ctx, "MODULE", "LIST"); err != nil {
		n.Err = err
		return n
	}
	n.Modules = moduleNames(v)
	return n
}

// secretSettings are the CONFIG GET parameters that hold a password.
var secretSettings = []string{"requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass"}

// Redacted replaces the value of a setting holding a password in
// Node.Config: Live is a value callers may print, and a password must not
// reach a log (DESIGN.md, invariant 8).
const Redacted = "(redacted)"

// infoField is the value of key in an INFO reply ("key:value" lines).
func infoField(info, key string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return v
		}
	}
	return ""
}

// moduleNames reads the names out of a MODULE LIST reply: one entry per
// module, a map (RESP3) or a flat list of field, value pairs (RESP2).
func moduleNames(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, m := range list {
		var fields map[string]string
		switch x := m.(type) {
		case map[any]any:
			fields = converge.ConfigMap(x)
		case []any:
			fields = converge.ConfigMap(x)
		}
		if name := fields["name"]; name != "" {
			out = append(out, name)
		}
	}
	return out
}

// host is the host part of addr.
func host(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

// requirepassSecret finds the Secret the pod's Redis container takes its
// password from: an environment variable filled from a Secret's key
// (valueFrom.secretKeyRef) that the container's command line passes to
// requirepass ("--requirepass $(REDIS_PASSWORD)"), else the first such
// variable whose name says it is a password (REDIS_PASSWORD,
// REDISCLI_AUTH), as charts pass it to a start script.
func requirepassSecret(pod *corev1.Pod, port int) *spec.SecretRef {
	ctr, ok := redisContainer(pod, port)
	if !ok {
		return nil
	}
	line := strings.Join(append(append([]string{}, ctr.Command...), ctr.Args...), " ")
	var named *spec.SecretRef
	for _, e := range ctr.Env {
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := &spec.SecretRef{Name: e.ValueFrom.SecretKeyRef.Name, Key: e.ValueFrom.SecretKeyRef.Key}
		if i := strings.Index(line, "$("+e.Name+")"); i >= 0 && strings.HasSuffix(strings.TrimRight(line[:i], ` "'=`), "requirepass") {
			return ref
		}
		upper := strings.ToUpper(e.Name)
		if named == nil && (strings.Contains(upper, "PASS") || strings.HasSuffix(upper, "AUTH")) {
			named = ref
		}
	}
	return named
}
