package render

import (
	"slices"
	"strings"
	"testing"

	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/redis-gitops/redis-gitops/spec"
)

// With spec.users, every pod mounts the daemon's users-state Secret,
// optional (it does not exist before the daemon's first pass), and
// redis.conf includes its users file by a glob that may match nothing;
// without users, neither. The rules and passwords are in no rendered
// object: only the daemon writes them, as hashes, into its Secret.
func TestUsersVolumeAndInclude(t *testing.T) {
	c := testCluster()
	c.Spec.Users = []spec.User{{Name: "app", PasswordSecretRefs: []spec.SecretRef{{Name: "app-redis"}}, Commands: []string{"+@read"}, Keys: []string{"app:*"}}}
	c.SetDefaults()
	objs := mustRender(t, c)
	if conf := objs.ConfigMap.Data[configFile]; !strings.Contains(conf, "\ninclude /acl-users/*.acl\n") || strings.Contains(conf, "app:*") {
		t.Errorf("redis.conf:\n%s\nwant the include of /acl-users/*.acl and no rule", conf)
	}
	pod := objs.StatefulSet.Spec.Template.Spec
	i := slices.IndexFunc(pod.Volumes, func(v corev1ac.VolumeApplyConfiguration) bool { return *v.Name == usersVolume })
	if i < 0 {
		t.Fatalf("no %s volume", usersVolume)
	}
	if v := pod.Volumes[i]; v.Secret == nil || *v.Secret.SecretName != "cache-redis-gitops-users" || v.Secret.Optional == nil || !*v.Secret.Optional {
		t.Errorf("volume %s = %v, want the Secret cache-redis-gitops-users, optional", usersVolume, generic(t, v))
	}
	redis := pod.Containers[0]
	if !slices.ContainsFunc(redis.VolumeMounts, func(m corev1ac.VolumeMountApplyConfiguration) bool {
		return *m.Name == usersVolume && *m.MountPath == "/acl-users" && *m.ReadOnly
	}) {
		t.Errorf("the redis container does not mount %s read-only at /acl-users: %v", usersVolume, generic(t, redis.VolumeMounts))
	}

	none := mustRender(t, testCluster())
	if strings.Contains(none.ConfigMap.Data[configFile], "acl-users") || slices.ContainsFunc(none.StatefulSet.Spec.Template.Spec.Volumes, func(v corev1ac.VolumeApplyConfiguration) bool { return *v.Name == usersVolume }) {
		t.Error("a cluster without users mounts or includes the users file")
	}
}
