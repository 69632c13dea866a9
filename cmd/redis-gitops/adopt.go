package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/redis-gitops/redis-gitops/reconcile/adopt"
	"github.com/redis-gitops/redis-gitops/spec"
)

func init() {
	commands["adopt"] = command{
		summary: "write the RedisCluster spec that takes over a running Redis Cluster",
		run:     runAdopt,
	}
}

const adoptUsage = `usage: redis-gitops adopt --from HOST:PORT|pod/NAME [--namespace NS] [--port N]
                         [--name NAME] [--statefulset NAME] [--password-secret NAME[/KEY]]
                         [--kubeconfig F] [-o FILE]

Reads a running Redis Cluster that redis-gitops did not make (CLUSTER NODES,
CONFIG GET, INFO and MODULE LIST of every node; the pod of the first node,
its StatefulSet and its password Secret when it finds them) and writes the
RedisCluster spec that takes it over: masters, replicas per master, image,
the settings that differ from Redis's defaults, storage, resources, the
password Secret, and spec.adopt naming the old StatefulSet. It writes nothing
to the cluster. What it could not carry over is listed as comments at the top
of the spec and on stderr. The spec is validated before it is written.

It refuses a cluster that cannot be adopted, naming each node and reason: a
node that does not answer, slots no master serves, an open (migrating or
importing) slot, a node flagged fail, Redis older than 6, cluster mode off,
TLS, fewer than 3 masters.

The password is read from a Secret (--password-secret, or the Secret the
pod's container passes to requirepass) and held in memory only.

Exit status: 0 spec written, 1 the cluster cannot be adopted (or its spec
does not validate), 2 cannot run (bad usage, Kubernetes or the Secret
unreadable, a password needed).

flags:
`

// settleWait is how long adopt reads a cluster again while its nodes
// disagree only because gossip has not spread a change yet (right after
// redis-cli --cluster create, for instance): a few node timeouts at most.
const settleWait = 20 * time.Second

// runAdopt is `redis-gitops adopt`: adopt.Read, adopt.Spec, a check with
// spec.Parse, then the spec on stdout or -o FILE.
func runAdopt(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("adopt", flag.ContinueOnError)
	flags.SetOutput(stderr)
	from := flags.String("from", "", "the first node to read: HOST:PORT, or pod/NAME (a pod of --namespace, reached at its pod IP)")
	namespace := flags.String("namespace", "default", "namespace of the pod, its StatefulSet and the password Secret, and of the spec")
	port := flags.Int("port", spec.DefaultAdoptPort, "client port of a pod/NAME")
	name := flags.String("name", "", "metadata.name of the spec (default: the old StatefulSet's name + "+adopt.NameSuffix+")")
	statefulSet := flags.String("statefulset", "", "the old StatefulSet, when the first node's pod is not found (a HOST:PORT outside Kubernetes' pod IPs)")
	passwordSecret := flags.String("password-secret", "", "Secret (in --namespace) holding the old cluster's password: NAME or NAME/KEY (key default \"password\")")
	kubeconfig := flags.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster)")
	output := flags.String("o", "", "write the spec to FILE instead of stdout")
	flags.Usage = func() { fmt.Fprint(stderr, adoptUsage); flags.PrintDefaults() }
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: 2}
	}
	if *from == "" || flags.NArg() > 0 {
		flags.Usage()
		return &exitError{code: 2, err: errors.New("adopt: --from HOST:PORT or pod/NAME is required, and nothing else")}
	}

	opts := adopt.ReadOptions{From: *from, Namespace: *namespace, Port: *port}
	if *passwordSecret != "" {
		n, k, _ := strings.Cut(*passwordSecret, "/")
		if n == "" {
			return &exitError{code: 2, err: fmt.Errorf("adopt: --password-secret %q: want NAME or NAME/KEY", *passwordSecret)}
		}
		opts.PasswordSecret = &spec.SecretRef{Name: n, Key: k}
	}
	client, err := kubeClient(*kubeconfig)
	switch {
	case err != nil && (strings.HasPrefix(*from, "pod/") || opts.PasswordSecret != nil):
		return &exitError{code: 2, err: fmt.Errorf("adopt: %w", err)}
	case err != nil:
		fmt.Fprintf(stderr, "redis-gitops: adopt: no Kubernetes (%v); reading Redis only\n", err)
	default:
		opts.Client = client
	}

	var c *spec.RedisCluster
	var notes []adopt.Note
	var refused *adopt.RefusedError
	for deadline := time.Now().Add(settleWait); ; {
		var live adopt.Live
		if live, err = adopt.Read(ctx, opts); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("adopt: %w", err)}
		}
		c, notes, err = adopt.Spec(live, adopt.Options{Name: *name, Namespace: *namespace, StatefulSet: *statefulSet})
		if !errors.As(err, &refused) || !refused.Settling() || time.Now().After(deadline) {
			break
		}
		select { // the nodes are still agreeing on a change: read again
		case <-ctx.Done():
			return &exitError{code: 2, err: ctx.Err()}
		case <-time.After(time.Second):
		}
	}
	switch {
	case errors.As(err, &refused):
		return &exitError{code: 1, err: err}
	case err != nil:
		return &exitError{code: 2, err: fmt.Errorf("adopt: %w (--statefulset)", err)}
	}
	var b bytes.Buffer
	if err := adopt.Write(&b, c, *from, notes); err != nil {
		return &exitError{code: 2, err: err}
	}
	if _, errs := spec.Parse("adopted spec", b.Bytes()); len(errs) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("adopt: the spec written for %s does not validate (--name, --namespace?):\n%v\n%s", *from, errs, b.String())}
	}
	for _, n := range notes {
		fmt.Fprintln(stderr, "note: "+n.String())
	}
	if *output == "" {
		_, err = stdout.Write(b.Bytes())
		return err
	}
	if err := os.WriteFile(*output, b.Bytes(), 0o644); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("adopt: %w", err)}
	}
	fmt.Fprintf(stderr, "wrote %s (%s)\n", *output, c.Key())
	return nil
}

// kubeClient is the Kubernetes client of kubeconfig, as the other commands
// load it.
func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	a, err := newApplier(kubeconfig)
	if err != nil {
		return nil, err
	}
	return a.Client, nil
}
