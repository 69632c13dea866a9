package render

import (
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/redis-gitops/redis-gitops/spec"
)

// A node restarted (a crash, an eviction, a roll) must come back with the
// users of spec.users, which ACL SETUSER keeps in memory only. The daemon
// writes them, as redis.conf "user" lines with SHA-256 hashes of the
// passwords (never a password), into its users-state Secret
// (UsersStateName) under UsersFileKey; every pod mounts that Secret,
// optional, and redis.conf includes it by a glob, which matches nothing
// until the daemon first writes it (a plain include of a missing file
// would stop Redis). The Secret is not rendered here: only the daemon
// knows the hashes. The volume and the include come with the first user,
// so declaring the first user (or removing the last) rolls the pods once;
// users changed after that reach the nodes live and the Secret with no
// restart.
const (
	usersVolume = "acl-users"
	usersDir    = "/acl-users"
	// UsersFileKey is the key of the users-state Secret holding the users'
	// redis.conf lines; the only key that matches usersInclude.
	UsersFileKey = "users.acl"
	usersInclude = usersDir + "/*.acl"
	// usersFileMode: the hashes are for redis-server alone.
	usersFileMode = 0o400
)

func hasUsers(c *spec.RedisCluster) bool { return len(c.Spec.Users) > 0 }

// usersVolumeSource is the daemon's users-state Secret, optional: a pod
// starts before the daemon first writes it.
func usersVolumeSource(c *spec.RedisCluster) *corev1ac.VolumeApplyConfiguration {
	return corev1ac.Volume().WithName(usersVolume).WithSecret(corev1ac.SecretVolumeSource().
		WithSecretName(UsersStateName(c.Metadata.Name)).
		WithOptional(true).
		WithDefaultMode(usersFileMode))
}

func usersMount() *corev1ac.VolumeMountApplyConfiguration {
	return corev1ac.VolumeMount().WithName(usersVolume).WithMountPath(usersDir).WithReadOnly(true)
}
