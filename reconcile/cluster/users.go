package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/acl"
	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/reconcile/kube"
	"github.com/redis-gitops/redis-gitops/reconcile/render"
	"github.com/redis-gitops/redis-gitops/spec"
)

// usersStateManaged is the key of the users-state Secret
// (render.UsersStateName) listing, one per line, the users the daemon
// manages on the cluster's nodes: those it created from spec.users. A
// user Git drops is deleted from the nodes only if it is listed there;
// any other user a person made is reported and left alone. The Secret also
// holds the users' redis.conf lines (render.UsersFileKey), with password
// hashes, which is why it is a Secret; it holds no password.
const usersStateManaged = "managed"

// DeclaredUsers reads spec.users with their passwords' SHA-256 hashes from
// the Secrets they name: every Secret must exist and hold its key, not
// empty, or nothing is planned (the error names the field and the Secret).
// The passwords themselves go no further than this function.
func (r *Redis) DeclaredUsers(ctx context.Context, c *spec.RedisCluster) ([]acl.User, error) {
	var out []acl.User
	secrets := map[string]map[string][]byte{}
	for i, u := range c.Spec.Users {
		du := acl.User{Name: u.Name, Enabled: u.UserEnabled(), Commands: u.Commands, Keys: u.Keys, Channels: u.Channels}
		for j, ref := range u.PasswordSecretRefs {
			// The field last-but-one and no word after "password": reports
			// mask the word that follows it.
			field := fmt.Sprintf("user %s (spec.users[%d], Secret %d of its %d)", u.Name, i, j+1, len(u.PasswordSecretRefs))
			data, ok := secrets[ref.Name]
			if !ok {
				s, err := r.Client.CoreV1().Secrets(c.Metadata.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
				if err != nil {
					return nil, fmt.Errorf("%s: Secret %s/%s: %w", field, c.Metadata.Namespace, ref.Name, err)
				}
				data = s.Data
				secrets[ref.Name] = data
			}
			pw, ok := data[ref.Key]
			switch {
			case !ok:
				return nil, fmt.Errorf("%s: Secret %s/%s has no key %q", field, c.Metadata.Namespace, ref.Name, ref.Key)
			case len(pw) == 0:
				return nil, fmt.Errorf("%s: Secret %s/%s: key %q is empty; a user needs a password", field, c.Metadata.Namespace, ref.Name, ref.Key)
			}
			if h := converge.PasswordHash(string(pw)); !slices.Contains(du.Hashes, h) {
				du.Hashes = append(du.Hashes, h)
			}
		}
		out = append(out, du)
	}
	return out, nil
}

// usersState is the users-state Secret: the users the daemon manages,
// and their redis.conf lines for nodes that restart (render.UsersFileKey).
type usersState struct {
	Managed []string
	Config  string
}

// ManagedUsers reads the users-state Secret's list; none when it does not
// exist. An error reading it is an error: read as "none", a user Git
// dropped would stay on the nodes with its password (invariant 9).
func (r *Redis) ManagedUsers(ctx context.Context, c *spec.RedisCluster) ([]string, error) {
	st, err := r.readUsersState(ctx, c)
	return st.Managed, err
}

func (r *Redis) readUsersState(ctx context.Context, c *spec.RedisCluster) (usersState, error) {
	name := render.UsersStateName(c.Metadata.Name)
	s, err := r.Client.CoreV1().Secrets(c.Metadata.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return usersState{}, nil
	}
	if err != nil {
		return usersState{}, fmt.Errorf("users state %s/%s: %w", c.Metadata.Namespace, name, err)
	}
	return usersState{Managed: strings.Fields(string(s.Data[usersStateManaged])), Config: string(s.Data[render.UsersFileKey])}, nil
}

// writeUsersState writes st when it differs from old: a pass with nothing
// to change writes nothing (invariant 7).
func (r *Redis) writeUsersState(ctx context.Context, c *spec.RedisCluster, old, st usersState) error {
	if slices.Equal(old.Managed, st.Managed) && old.Config == st.Config {
		return nil
	}
	name := render.UsersStateName(c.Metadata.Name)
	ac := corev1ac.Secret(name, c.Metadata.Namespace).
		WithLabels(render.UsersStateLabels(c.Metadata.Name)).
		WithType("Opaque").
		WithData(map[string][]byte{
			usersStateManaged:   []byte(strings.Join(st.Managed, "\n")),
			render.UsersFileKey: []byte(st.Config),
		})
	if _, err := r.Client.CoreV1().Secrets(c.Metadata.Namespace).Apply(ctx, ac, metav1.ApplyOptions{FieldManager: kube.FieldManager, Force: true}); err != nil {
		return fmt.Errorf("users state %s/%s: %w", c.Metadata.Namespace, name, err)
	}
	return nil
}

// convergeUsers brings every running pod's ACL users to spec.users
// (converge.ConvergeUsers) and keeps the record of managed users: before
// any change it adds the declared users to it (a user is recorded before
// it is created, so a crash between the two cannot leave one the daemon
// would not know as its own), and once every pod is done it drops the
// users Git no longer declares. It returns nil when the cluster declares
// no user and manages none. With dryRun it only reads.
func (r *Redis) convergeUsers(ctx context.Context, c *spec.RedisCluster, dial converge.Dialer, dryRun bool) (*converge.UsersResult, error) {
	declared, err := r.DeclaredUsers(ctx, c)
	if err != nil {
		return nil, err
	}
	st, err := r.readUsersState(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(declared) == 0 && len(st.Managed) == 0 {
		return nil, nil
	}
	pods, err := (&converge.Observer{Client: r.Client}).Pods(ctx, TargetFor(c))
	if err != nil {
		return nil, err
	}
	config := acl.ConfigLines(declared)
	// Recorded once the plan holds (every rule taken by every node's
	// command table: a rule Redis refuses in the pods' startup file would
	// stop a restarted node) and before any node changes: a user is known
	// as managed before it exists, and a node that restarts from then on
	// starts with the declared users.
	recorded := usersState{Managed: union(st.Managed, acl.Managed(declared)), Config: config}
	record := func() error { return r.writeUsersState(ctx, c, st, recorded) }
	res, err := converge.ConvergeUsers(ctx, dial, render.ClientPort, pods, declared, recorded.Managed, dryRun, record)
	if err != nil || dryRun || !res.Done {
		return &res, err
	}
	if err := r.writeUsersState(ctx, c, recorded, usersState{Managed: acl.Managed(declared), Config: config}); err != nil {
		return &res, err
	}
	return &res, nil
}

// union is a and b, sorted, each name once.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// logUsers logs the users steps a convergence ran or planned; a step names
// a user and a pod, never a password or a hash.
func (r *Redis) logUsers(c *spec.RedisCluster, res *converge.UsersResult) {
	if r.Log == nil || res == nil {
		return
	}
	for i, st := range res.Plan.Steps {
		r.Log.Info("acl user", "cluster", c.Key(), "step", st.String(), "done", i < res.Applied)
	}
	for _, u := range res.Plan.Unmanaged {
		r.Log.Info("acl user not in spec.users, left as it is", "cluster", c.Key(), "pod", u.Pod, "user", u.User)
	}
}

// PlanUsers is the users plan against the live nodes, for a pull
// request's plan: it only reads (nil when the cluster has no user to
// manage). A Secret missing or a rule a node refuses is its error.
func (r *Redis) PlanUsers(ctx context.Context, c *spec.RedisCluster) (*converge.UsersResult, error) {
	dial, err := r.ObserveDialer(ctx, c)
	if err != nil {
		return nil, err
	}
	return r.convergeUsers(ctx, c, dial, true)
}
