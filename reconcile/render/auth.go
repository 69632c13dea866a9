package render

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/redis-gitops/redis-gitops/spec"
)

// The password reaches Redis without entering argv, the ConfigMap or this
// package: an init container reads it from the Secret into an environment
// variable and writes requirepass and masterauth into a memory-backed
// emptyDir that redis.conf includes. redis-cli (the readiness probe, and
// `kubectl exec ... redis-cli`) reads it from REDISCLI_AUTH.
const (
	authInitContainer = "auth"
	authVolume        = "auth"
	// envPassword holds the password in the init container only.
	envPassword = "REDIS_PASSWORD"
	// envCLIAuth is the variable redis-cli takes the password from, so
	// that it never needs -a on its command line.
	envCLIAuth = "REDISCLI_AUTH"
)

// authScript writes authFilePath from $REDIS_PASSWORD. It runs in the
// redis image's sh, using only builtins (printf, test, case, parameter
// expansion), so the password is never the argument of another process.
//
// The password goes into double quotes, where Redis's config parser
// (sdssplitargs) treats \ as an escape: \ and " are escaped, and a newline
// becomes \n so that a password can neither break its line nor add a
// directive. The script must not contain "$(": the kubelet expands $(VAR)
// in a container's command and args.
const authScript = `set -eu
umask 077
if [ -z "${` + envPassword + `:-}" ]; then
  echo "auth: the password in the Secret is empty; refusing to start Redis without one" >&2
  exit 1
fi
nl='
'
p=$` + envPassword + `
q=
while [ -n "$p" ]; do
  r=${p#?}
  c=${p%"$r"}
  p=$r
  case $c in
    '\' | '"') q="$q\\$c" ;;
    "$nl") q="$q\\n" ;;
    *) q="$q$c" ;;
  esac
done
printf 'requirepass "%s"\nmasterauth "%s"\n' "$q" "$q" >` + authFilePath + `
`

// authVolumeSize bounds the emptyDir: it holds one short file, and memory
// media count against the pod's memory.
var authVolumeSize = resource.MustParse("1Mi")

// secretEnv is an environment variable taken from the cluster's Secret.
func secretEnv(name string, a *spec.Auth) *corev1ac.EnvVarApplyConfiguration {
	return corev1ac.EnvVar().WithName(name).WithValueFrom(corev1ac.EnvVarSource().
		WithSecretKeyRef(corev1ac.SecretKeySelector().
			WithName(a.SecretRef.Name).
			WithKey(a.SecretRef.Key)))
}

// authInit is the init container that writes authFilePath.
func authInit(c *spec.RedisCluster) *corev1ac.ContainerApplyConfiguration {
	return corev1ac.Container().
		WithName(authInitContainer).
		WithImage(c.Spec.Redis.Image).
		WithCommand("sh", "-c", authScript).
		WithEnv(secretEnv(envPassword, c.Spec.Auth)).
		WithVolumeMounts(corev1ac.VolumeMount().WithName(authVolume).WithMountPath(authDir))
}

// authVolumeSource is the memory-backed emptyDir for authFilePath: the
// password never reaches a disk.
func authVolumeSource() *corev1ac.VolumeApplyConfiguration {
	return corev1ac.Volume().WithName(authVolume).WithEmptyDir(corev1ac.EmptyDirVolumeSource().
		WithMedium(corev1.StorageMediumMemory).
		WithSizeLimit(authVolumeSize))
}
