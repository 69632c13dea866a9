package cluster

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/redis-gitops/redis-gitops/reconcile/converge"
	"github.com/redis-gitops/redis-gitops/spec"
)

// An unreadable rotation start keeps the old password: read as the zero
// time, it made the grace period long past and the old password dropped at
// once (invariant 9).
func TestRotationUnreadableStart(t *testing.T) {
	want := converge.PasswordHash("new")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		since        string // rotating-since in the auth-state Secret; "-" for none
		rotatingTo   string
		grace        time.Duration
		wantUnread   bool
		wantRotating bool
		wantDrop     bool
	}{
		{"garbage start", "not-a-time", want, time.Hour, true, false, false},
		{"a start in another format", "2026-03-01 11:00:00", want, time.Hour, true, false, false},
		{"no start", "-", want, time.Hour, true, false, false},
		{"in the grace", now.Add(-10 * time.Minute).Format(time.RFC3339), want, time.Hour, false, true, false},
		{"grace over", now.Add(-2 * time.Hour).Format(time.RFC3339), want, time.Hour, false, true, true},
		{"no grace period", "not-a-time", want, 0, true, false, true},
		{"a rotation to another password", now.Add(-2 * time.Hour).Format(time.RFC3339), converge.PasswordHash("other"), time.Hour, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &spec.RedisCluster{Metadata: spec.Metadata{Namespace: "prod", Name: "cache"}}
			data := map[string][]byte{authStatePassword: []byte("old"), authStateRotatingTo: []byte(tc.rotatingTo)}
			if tc.since != "-" {
				data[authStateSince] = []byte(tc.since)
			}
			r := &Redis{Client: fake.NewClientset(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "cache-redis-gitops-auth"}, Data: data})}
			st, err := r.readAuthState(t.Context(), c)
			if err != nil || st == nil {
				t.Fatalf("readAuthState: %+v, %v", st, err)
			}
			if got := st.SinceErr != nil; got != tc.wantUnread {
				t.Errorf("SinceErr %v, want unreadable %v", st.SinceErr, tc.wantUnread)
			}
			if st.Password != "old" {
				t.Errorf("old password %q lost", st.Password)
			}
			rotating, drop := rotation(st, want, tc.grace, now)
			if rotating != tc.wantRotating || drop != tc.wantDrop {
				t.Errorf("rotation: rotating %v drop %v, want rotating %v drop %v", rotating, drop, tc.wantRotating, tc.wantDrop)
			}
		})
	}
}
