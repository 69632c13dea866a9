package cluster

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/reconcile/topology"
	"github.com/redis-gitops/redis-gitops/spec"
)

// authState is what the daemon keeps of a cluster's password between
// passes, in a Secret of its own (render.AuthStateName) next to the
// cluster: the password the nodes took before the rotation under way (the
// only way back in to a node that has not taken the new one yet, after a
// daemon restart), and when every node started to take the new one too.
type authState struct {
	Password   string
	RotatingTo string // converge.PasswordHash of the new password
	Since      time.Time
	// SinceErr says why Since could not be read (a rotation with no start,
	// or one that does not parse). Not written back: the decision reads it
	// as "the rotation starts now", so the old password is not dropped.
	SinceErr error
}

// Keys of the auth-state Secret.
const (
	authStatePassword   = "password"
	authStateRotatingTo = "rotating-to-sha256"
	authStateSince      = "rotating-since"
)

func (r *Redis) readAuthState(ctx context.Context, c *spec.RedisCluster) (*authState, error) {
	s, err := r.Client.CoreV1().Secrets(c.Metadata.Namespace).Get(ctx, render.AuthStateName(c.Metadata.Name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth state %s/%s: %w", c.Metadata.Namespace, render.AuthStateName(c.Metadata.Name), err)
	}
	st := &authState{Password: string(s.Data[authStatePassword]), RotatingTo: string(s.Data[authStateRotatingTo])}
	if t := string(s.Data[authStateSince]); t != "" || st.RotatingTo != "" {
		if st.Since, err = time.Parse(time.RFC3339, t); err != nil {
			st.SinceErr = fmt.Errorf("auth state %s/%s: %s: %w", c.Metadata.Namespace, render.AuthStateName(c.Metadata.Name), authStateSince, err)
		}
	}
	return st, nil
}

func (r *Redis) writeAuthState(ctx context.Context, c *spec.RedisCluster, st authState) error {
	data := map[string][]byte{authStatePassword: []byte(st.Password)}
	if st.RotatingTo != "" {
		data[authStateRotatingTo] = []byte(st.RotatingTo)
		data[authStateSince] = []byte(st.Since.UTC().Format(time.RFC3339))
	}
	name := render.AuthStateName(c.Metadata.Name)
	ac := corev1ac.Secret(name, c.Metadata.Namespace).
		WithLabels(render.AuthStateLabels(c.Metadata.Name)).
		WithType("Opaque").
		WithData(data)
	if _, err := r.Client.CoreV1().Secrets(c.Metadata.Namespace).Apply(ctx, ac, metav1.ApplyOptions{FieldManager: kube.FieldManager, Force: true}); err != nil {
		return fmt.Errorf("auth state %s/%s: %w", c.Metadata.Namespace, name, err)
	}
	return nil
}

func (st *authState) same(o authState) bool {
	return st != nil && st.Password == o.Password && st.RotatingTo == o.RotatingTo && st.Since.Equal(o.Since)
}

// passwordCandidates are the passwords a node may take, the declared one
// first: the declared one, the one in effect before it, and none at all
// (a cluster that ran without auth).
func passwordCandidates(pw string, st *authState) []string {
	out := []string{pw}
	if st != nil && st.Password != pw {
		out = append(out, st.Password)
	}
	if pw != "" && (st == nil || st.Password != "") {
		out = append(out, "")
	}
	return out
}

// convergeAuth moves every node to the declared password pw, keeping the
// old one accepted for spec.auth.rotationGracePeriod (converge.ConvergeAuth
// says in which order), and records where the rotation stands in the
// auth-state Secret. It returns nil when the cluster has and had no auth.
func (r *Redis) convergeAuth(ctx context.Context, c *spec.RedisCluster, dial converge.Dialer, pods []topology.Pod, pw string, st *authState, dryRun bool) (*converge.AuthProgress, error) {
	if c.Spec.Auth == nil && st == nil {
		return nil, nil
	}
	var grace time.Duration
	if c.Spec.Auth != nil {
		grace = c.Spec.Auth.RotationGracePeriod.Duration
	}
	want := converge.PasswordHash(pw)
	now := time.Now()
	rotating, drop := rotation(st, want, grace, now)
	if st != nil && st.SinceErr != nil && r.Log != nil {
		r.Log.Warn("password rotation: its start cannot be read; the old password stays accepted for a whole grace period from now",
			"cluster", c.Key(), "err", st.SinceErr)
	}
	res, err := converge.ConvergeAuth(ctx, dial, render.ServingPort(c), pods, pw, drop, dryRun)
	p := &converge.AuthProgress{AuthResult: res}
	if rotating {
		p.DropAfter = st.Since.Add(grace)
	}
	if dryRun {
		return p, err
	}
	var next authState
	switch {
	case res.Done:
		next = authState{Password: pw}
	case res.AcceptAll() && !rotating && res.Others() > 0:
		old := ""
		if st != nil {
			old = st.Password
		}
		next = authState{Password: old, RotatingTo: want, Since: now}
		p.DropAfter = now.Add(grace)
	default:
		return p, err // a node missed or a rotation under way: as it is
	}
	if !st.same(next) {
		if werr := r.writeAuthState(ctx, c, next); werr != nil && err == nil {
			err = werr
		}
	}
	return p, err
}

// rotation decides, for the declared password hashed want, whether the
// rotation to it is under way with a known start, and whether this pass
// drops the old password: at once with no grace period, else once the grace
// has passed since the start. A start that cannot be read is no start: the
// rotation begins again now and the old password stays (invariant 9).
func rotation(st *authState, want string, grace time.Duration, now time.Time) (rotating, drop bool) {
	rotating = st != nil && st.RotatingTo == want && st.SinceErr == nil
	drop = grace == 0 || rotating && !now.Before(st.Since.Add(grace))
	return rotating, drop
}

// ObserveDialer dials the cluster's nodes with whichever password each
// takes (the declared one, or the one before a rotation that is under
// way), over TLS with spec.tls: for the reads outside a convergence
// (scale-in holds, plans).
func (r *Redis) ObserveDialer(ctx context.Context, c *spec.RedisCluster) (converge.Dialer, error) {
	if r.Dial != nil {
		return r.Dial, nil
	}
	pw, err := r.Password(ctx, c)
	if err != nil {
		return nil, err
	}
	st, err := r.readAuthState(ctx, c)
	if err != nil {
		return nil, err
	}
	tlsc, err := r.TLS(ctx, c)
	if err != nil {
		return nil, err
	}
	return nodeDialer(ctx, passwordCandidates(pw, st), tlsc), nil
}
