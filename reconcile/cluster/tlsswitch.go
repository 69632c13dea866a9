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
func (r *Redis) TLSStageFor(ctx context.Context, c *spec.RedisCluster, dial converge.Dialer) (tlsplan.Stage, error) {
	target := render.TargetStage(c)
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
