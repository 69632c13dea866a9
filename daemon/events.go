package daemon

import (
	"context"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
)

// KubeEvents records Events (events.k8s.io/v1) on clusters' StatefulSets,
// so `kubectl describe statefulset` and `kubectl events` show what the
// daemon concluded. The daemon calls it only when a report changed: a pass
// with nothing to change writes no Event either.
type KubeEvents struct {
	Client   kubernetes.Interface
	Log      *slog.Logger
	recorder events.EventRecorderLogger
	stop     func()
}

var _ EventSink = (*KubeEvents)(nil)

// Start begins sending Events until ctx ends; Stop flushes them.
func (k *KubeEvents) Start(ctx context.Context) error {
	b := events.NewBroadcaster(&events.EventSinkImpl{Interface: k.Client.EventsV1()})
	if err := b.StartRecordingToSinkWithContext(ctx); err != nil {
		return err
	}
	k.recorder = b.NewRecorder(scheme.Scheme, "redis-gitops")
	k.stop = b.Shutdown
	return nil
}

// Stop flushes and stops the broadcaster.
func (k *KubeEvents) Stop() {
	if k.stop != nil {
		k.stop()
	}
}

// Event records one Event on namespace/name's StatefulSet.
func (k *KubeEvents) Event(ctx context.Context, namespace, name string, warning bool, reason, message string) {
	if k.recorder == nil {
		return
	}
	sts, err := k.Client.AppsV1().StatefulSets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		k.Log.Debug("no StatefulSet to record an Event on", "cluster", namespace+"/"+name, "err", err)
		return
	}
	typ := corev1.EventTypeNormal
	if warning {
		typ = corev1.EventTypeWarning
	}
	k.recorder.Eventf(sts, nil, typ, reason, "Reconcile", "%s", message)
}
