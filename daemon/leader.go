package daemon

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Leader elects one acting daemon with a Kubernetes Lease (invariant 4:
// one writer). The others wait, ready, and take over when the leader stops
// renewing.
type Leader struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	Identity  string
	// LeaseDuration, RenewDeadline and RetryPeriod are client-go's
	// (defaults 15 s, 10 s, 2 s): a killed leader is replaced within about
	// LeaseDuration + RetryPeriod.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Log                                       *slog.Logger
	// OnLeading is called, once, with the leader's state.
	OnLeading func(leading bool)
}

// Run campaigns until ctx ends. While this daemon leads, lead runs with a
// context that is cancelled the moment the Lease is lost. Run returns when
// ctx ends (the Lease is released so a successor need not wait) or when
// the Lease is lost (the caller exits: a daemon that lost its Lease must
// not guess whether it may still act).
func (l *Leader) Run(ctx context.Context, lead func(ctx context.Context)) error {
	if l.LeaseDuration == 0 {
		l.LeaseDuration = 15 * time.Second
	}
	if l.RenewDeadline == 0 {
		l.RenewDeadline = 10 * time.Second
	}
	if l.RetryPeriod == 0 {
		l.RetryPeriod = 2 * time.Second
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: l.Namespace, Name: l.Name},
		Client:     l.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: l.Identity},
	}
	done := make(chan struct{})
	var started atomic.Bool
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   l.LeaseDuration,
		RenewDeadline:   l.RenewDeadline,
		RetryPeriod:     l.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            l.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				started.Store(true)
				defer close(done)
				l.Log.Info("leading: this daemon acts", "lease", l.Namespace+"/"+l.Name, "identity", l.Identity)
				if l.OnLeading != nil {
					l.OnLeading(true)
				}
				lead(ctx)
			},
			OnStoppedLeading: func() {
				if l.OnLeading != nil {
					l.OnLeading(false)
				}
				l.Log.Info("not leading", "lease", l.Namespace+"/"+l.Name, "identity", l.Identity)
			},
			OnNewLeader: func(identity string) {
				if identity != l.Identity {
					l.Log.Info("following", "leader", identity)
				}
			},
		},
	})
	if err != nil {
		return err
	}
	le.Run(ctx)
	lost := ctx.Err() == nil
	// OnStartedLeading runs in its own goroutine: wait for lead to return
	// before the caller exits. (Had it not started yet, it starts with a
	// cancelled context and does nothing.)
	if started.Load() {
		<-done
	}
	if lost {
		return errLeaseLost
	}
	return nil
}

var errLeaseLost = errLost("lost the Lease; exiting so that only the new leader acts")

type errLost string

func (e errLost) Error() string { return string(e) }
