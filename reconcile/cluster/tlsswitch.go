package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// ErrTLSOnlyNodes: spec.tls was removed while the nodes serve TLS only,
// and the daemon, which no longer has the certificate's CA, cannot reach
// them to switch them back.
var ErrTLSOnlyNodes = errors.New("spec.tls was removed but the nodes serve TLS only: put spec.tls back with plaintextPort: true, let a pass reopen the plaintext port, then remove spec.tls")

// tlsNodes reads where every pod's node stands in a switch between
// plaintext and TLS, keeping the connection of each node read (the caller
// closes them). A pod not running or not answering is missed, with why.
func tlsNodes(ctx context.Context, dial converge.Dialer, pods []topology.Pod) ([]tlsplan.Node, map[string]converge.Admin, []string) {
	var nodes []tlsplan.Node
	var missed []string
	admins := map[string]converge.Admin{}
	for _, p := range pods {
		if p.IP == "" {
			missed = append(missed, p.Name+": not running")
			continue
		}
		a := dial(net.JoinHostPort(p.IP, strconv.Itoa(render.ClientPort)))
		n, err := converge.ReadTLSNode(ctx, a, p.Name, render.Ports)
		if err != nil {
			a.Close()
			missed = append(missed, fmt.Sprintf("%s: %v", p.Name, err))
			continue
		}
		nodes = append(nodes, n)
		admins[p.Name] = a
	}
	return nodes, admins, missed
}

func closeAll(admins map[string]converge.Admin) {
	for _, a := range admins {
		a.Close()
	}
}

// TLSStageFor is the stage the pods' configuration must carry this pass
// (render.RenderAt), read from the nodes before anything is applied: the
// spec's target for a new cluster, the nodes' stage in the middle of a
// switch (tlsplan.ConfigStage). When some pod cannot be read it keeps the
// stage the live ConfigMap carries: a stage written from a partial view
// could bring a restarted pod up on the other bus. dial reaches the nodes
// on either port (converge.EitherPort).
func (r *Redis) TLSStageFor(ctx context.Context, c *spec.RedisCluster) (tlsplan.Stage, error) {
	target := render.TargetStage(c)
	dial, err := r.ObserveDialer(ctx, c)
	if err != nil {
		return 0, err
	}
	pods, err := (&converge.Observer{Client: r.Client}).Pods(ctx, TargetFor(c))
	if err != nil {
		return 0, err
	}
	if len(pods) == 0 {
		return target, nil
	}
	nodes, admins, missed := tlsNodes(ctx, dial, pods)
	closeAll(admins)
	if len(missed) == 0 {
		return tlsplan.ConfigStage(nodes, target), nil
	}
	live, ok, err := r.liveStage(ctx, c)
	switch {
	case err != nil:
		return 0, err
	case ok:
		return live, nil
	case len(nodes) > 0:
		return tlsplan.ConfigStage(nodes, target), nil
	}
	return 0, fmt.Errorf("tls: no pod of %s could be read (%v) and its ConfigMap holds no stage: the stage is not guessed", c.Key(), missed)
}

// liveStage is the stage the live ConfigMap carries (false when it has
// none: a cluster that never had spec.tls).
func (r *Redis) liveStage(ctx context.Context, c *spec.RedisCluster) (tlsplan.Stage, bool, error) {
	name := render.ConfigMapName(c.Metadata.Name)
	cm, err := r.Client.CoreV1().ConfigMaps(c.Metadata.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("tls: read ConfigMap %s/%s: %w", c.Metadata.Namespace, name, err)
	}
	conf, ok := cm.Data[render.ListenFileKey]
	if !ok {
		return 0, false, nil
	}
	s, ok := render.StageOf(conf)
	if !ok {
		return 0, false, fmt.Errorf("tls: ConfigMap %s/%s: %s holds no stage this daemon knows", c.Metadata.Namespace, name, render.ListenFileKey)
	}
	return s, true, nil
}

// writeStage writes stage s into the live ConfigMap's stage file, before
// the nodes go to it: a pod restarted from then on comes back in it. A
// merge patch of that key only: the next apply renders the same value
// (render.RenderAt with the stage the nodes are at).
func (r *Redis) writeStage(ctx context.Context, c *spec.RedisCluster, s tlsplan.Stage) error {
	patch, err := json.Marshal(map[string]any{"data": map[string]string{render.ListenFileKey: render.ListenConf(s)}})
	if err != nil {
		return err
	}
	name := render.ConfigMapName(c.Metadata.Name)
	_, err = r.Client.CoreV1().ConfigMaps(c.Metadata.Namespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager})
	if err != nil {
		return fmt.Errorf("ConfigMap %s/%s: %w", c.Metadata.Namespace, name, err)
	}
	return nil
}

// convergeTLS brings every node to the spec's stage (tlsplan.PlanSwitch),
// a stage at a time across the cluster, writing each stage into the
// ConfigMap before the nodes go to it; with dryRun it only plans. It
// returns nil for a cluster that has and had no TLS.
func (r *Redis) convergeTLS(ctx context.Context, c *spec.RedisCluster, dial converge.Dialer, pods []topology.Pod, dryRun bool) (*converge.TLSProgress, error) {
	target := render.TargetStage(c)
	nodes, admins, missed := tlsNodes(ctx, dial, pods)
	defer closeAll(admins)
	lo, hi := tlsplan.Range(nodes)
	if target == tlsplan.Off && hi == tlsplan.Off && len(nodes) > 0 {
		return nil, nil
	}
	p := &converge.TLSProgress{Target: target, Missed: missed}
	if len(nodes) > 0 {
		p.From = lo
	}
	p.Steps = tlsplan.PlanSwitch(nodes, missed, target)
	if dryRun || len(p.Steps) == 0 {
		p.Stage = p.From
		p.Done = len(p.Steps) == 0 && len(missed) == 0
		return p, nil
	}
	done, err := converge.RunTLSSwitch(ctx, admins, p.Steps, func(ctx context.Context, s tlsplan.Stage) error {
		return r.writeStage(ctx, c, s)
	})
	p.Executed = done
	p.Stage = p.From
	for _, st := range done {
		p.Stage = st.To
	}
	p.Done = err == nil && len(done) == len(p.Steps) && len(missed) == 0
	if r.Log != nil {
		r.Log.Info("tls switch", "cluster", c.Key(), "from", p.From.String(), "stage", p.Stage.String(), "target", target.String(), "steps", len(done), "of", len(p.Steps), "done", p.Done)
	}
	return p, err
}

// Effective is the cluster as this pass must treat it: c itself, or, when
// spec.tls was removed while the live ConfigMap says the nodes are not
// back on plaintext yet, a copy of c with the TLS its pods run with (the
// Secret their StatefulSet mounts, the client auth their redis.conf
// says, the plaintext port kept) marked SwitchingOff: the pods keep their
// certificate, the daemon still reaches them over TLS, and the switch goes
// down to plaintext before the pods restart without TLS. Rendering the
// pods from a spec without TLS at once would restart them one by one onto
// a plaintext bus that the others, still on TLS, do not hear.
func (r *Redis) Effective(ctx context.Context, c *spec.RedisCluster) (*spec.RedisCluster, error) {
	if c.Spec.TLS != nil {
		return c, nil
	}
	live, ok, err := r.liveStage(ctx, c)
	if err != nil || !ok || live == tlsplan.Off {
		return c, err
	}
	ns := c.Metadata.Namespace
	sts, err := r.Client.AppsV1().StatefulSets(ns).Get(ctx, c.Metadata.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("tls: switching %s off: read its StatefulSet: %w", c.Key(), err)
	}
	secret := render.TLSSecretOf(sts)
	cm, err := r.Client.CoreV1().ConfigMaps(ns).Get(ctx, render.ConfigMapName(c.Metadata.Name), metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("tls: switching %s off: read its ConfigMap: %w", c.Key(), err)
	}
	auth := render.TLSAuthClientsOf(cm.Data[render.ConfigFileKey])
	if secret == "" || auth == "" {
		return nil, fmt.Errorf("tls: switching %s off: its pods run stage %q but the live StatefulSet mounts no certificate Secret or its redis.conf has no tls-auth-clients", c.Key(), live)
	}
	cp := *c
	cp.Spec.TLS = &spec.TLS{SecretRef: spec.TLSSecretRef{Name: secret}, PlaintextPort: true, ClientAuth: auth,
		ExpiryWarning: spec.Duration{Duration: spec.DefaultTLSExpiryWarning}, SwitchingOff: true}
	return &cp, nil
}

// nodeDialer is FallbackDialer on either port with TLS (EitherPort: in the
// middle of a switch some nodes have no TLS listener yet, some no
// plaintext one any more), and on the plaintext port without.
func nodeDialer(ctx context.Context, passwords []string, tlsc *converge.TLS) converge.Dialer {
	if tlsc == nil {
		return converge.FallbackDialer(ctx, passwords, nil)
	}
	return converge.EitherPort(converge.FallbackDialer(ctx, passwords, tlsc), converge.FallbackDialer(ctx, passwords, nil), render.TLSPort, render.ClientPort)
}

// convergeTLSAll runs the TLS half of a convergence, after the topology
// and the roll: the switch between plaintext and TLS, stage by stage, then
// the reload of a renewed certificate on the nodes that listen on TLS.
func (r *Redis) convergeTLSAll(ctx context.Context, c *spec.RedisCluster, dial converge.Dialer, t converge.Target, res *converge.Result, dryRun bool) error {
	if c.Spec.TLS == nil {
		return nil
	}
	pods, err := (&converge.Observer{Client: r.Client}).Pods(ctx, t)
	if err != nil {
		return err
	}
	if res.TLS, err = r.convergeTLS(ctx, c, dial, pods, dryRun); err != nil {
		return err
	}
	if res.TLS != nil && res.TLS.Stage < tlsplan.Listening {
		return nil // no TLS listener yet: nothing to reload
	}
	res.Certificates, err = r.reloadCertificates(ctx, c, dial, pods, dryRun)
	return err
}
