package render

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/tlsplan"
	"github.com/redis-gitops/redis-gitops/spec"
)

// With spec.tls, the four settings that differ between the stages of a
// switch between plaintext and TLS (port, tls-port, tls-cluster,
// tls-replication: tlsplan.Listen) are not in redis.conf but in a file of
// their own, listenFile, which redis.conf includes. The config hash covers
// redis.conf only, so writing another stage into listenFile restarts no
// pod; a pod that restarts in the middle of a switch reads the stage the
// cluster is at and hears the others (a node on a TLS bus and one on a
// plaintext bus do not).
const (
	listenFile     = "listen.conf"
	listenFilePath = configDir + "/" + listenFile
)

// ListenFileKey is the ConfigMap key of the stage file.
const ListenFileKey = listenFile

// TargetStage is the stage the spec asks for: plaintext without spec.tls
// (or while switching off, see spec.TLS.SwitchingOff), bus and replication
// over TLS with the plaintext port kept (spec.tls.plaintextPort), TLS only
// otherwise.
func TargetStage(c *spec.RedisCluster) tlsplan.Stage {
	switch {
	case c.Spec.TLS == nil || c.Spec.TLS.SwitchingOff:
		return tlsplan.Off
	case c.Spec.TLS.PlaintextPort:
		return tlsplan.Bus
	}
	return tlsplan.Only
}

// Ports are the client ports of every node: plaintext and TLS.
var Ports = tlsplan.Ports{Plain: ClientPort, TLS: TLSPort}

// ListenConf is the content of listenFile for stage s.
func ListenConf(s tlsplan.Stage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# The stage of the switch between plaintext and TLS: %s. Written by redis-gitops as the switch goes.\n", s)
	for _, x := range tlsplan.Listen(s, Ports) {
		fmt.Fprintf(&b, "%s %s\n", x.Key, x.Value)
	}
	return b.String()
}

// StageOf reads the stage back from a listenFile's content (the live
// ConfigMap's): the stage whose settings it holds.
func StageOf(conf string) (tlsplan.Stage, bool) {
	for s := tlsplan.Off; s <= tlsplan.Only; s++ {
		if strings.TrimSpace(stripComments(conf)) == strings.TrimSpace(stripComments(ListenConf(s))) {
			return s, true
		}
	}
	return 0, false
}

func stripComments(conf string) string {
	var out []string
	for _, l := range strings.Split(conf, "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TLSSecretOf is the Secret a live StatefulSet mounts as the nodes'
// certificate ("" when none).
func TLSSecretOf(sts *appsv1.StatefulSet) string {
	if sts == nil {
		return ""
	}
	for _, v := range sts.Spec.Template.Spec.Volumes {
		if v.Name == tlsVolume && v.Secret != nil {
			return v.Secret.SecretName
		}
	}
	return ""
}

// TLSAuthClientsOf reads spec.tls.clientAuth back from a live redis.conf's
// tls-auth-clients ("" when it has none).
func TLSAuthClientsOf(conf string) string {
	for _, l := range strings.Split(conf, "\n") {
		switch strings.TrimSpace(l) {
		case "tls-auth-clients no":
			return spec.ClientAuthNone
		case "tls-auth-clients optional":
			return spec.ClientAuthOptional
		case "tls-auth-clients yes":
			return spec.ClientAuthRequired
		}
	}
	return ""
}

// ConfigFileKey is the ConfigMap key of redis.conf.
const ConfigFileKey = configFile
