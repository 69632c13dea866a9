package render

import (
	"strings"
	"testing"

	"github.com/redis-gitops/redis-gitops/spec"
)

func monitoredCluster() *spec.RedisCluster {
	c := authCluster()
	c.Spec.Monitoring = spec.Monitoring{Enabled: true}
	c.SetDefaults()
	return c
}

func TestExporterSidecar(t *testing.T) {
	c := monitoredCluster()
	objs := mustRender(t, c)
	pod := objs.StatefulSet.Spec.Template
	if n := len(pod.Spec.Containers); n != 2 {
		t.Fatalf("%d containers, want redis and the exporter", n)
	}
	exp := pod.Spec.Containers[1]
	if got, want := *exp.Name, ExporterContainerName; got != want {
		t.Errorf("container name %q, want %q", got, want)
	}
	if got, want := *exp.Image, spec.DefaultExporterImage; got != want {
		t.Errorf("image %q, want %q", got, want)
	}
	if got, want := strings.Join(exp.Args, " "), "-redis.addr=redis://127.0.0.1:6379 -web.listen-address=:9121"; !strings.HasPrefix(got, want) {
		t.Errorf("args %q, want them to start %q", got, want)
	}
	// The password comes from the Secret by reference: no argument names a
	// password and no variable carries a value of its own.
	for _, a := range exp.Args {
		if strings.Contains(strings.ToLower(a), "password") {
			t.Errorf("argument %q is about the password", a)
		}
	}
	if len(exp.Env) != 1 || *exp.Env[0].Name != "REDIS_PASSWORD" || exp.Env[0].Value != nil ||
		*exp.Env[0].ValueFrom.SecretKeyRef.Name != c.Spec.Auth.SecretRef.Name || *exp.Env[0].ValueFrom.SecretKeyRef.Key != c.Spec.Auth.SecretRef.Key {
		t.Errorf("env %+v, want only REDIS_PASSWORD from the Secret %s, key %s", generic(t, exp)["env"], c.Spec.Auth.SecretRef.Name, c.Spec.Auth.SecretRef.Key)
	}
	res := generic(t, exp.Resources)
	for _, tc := range []struct {
		path []any
		want string
	}{
		{[]any{"requests", "cpu"}, "10m"}, {[]any{"requests", "memory"}, "32Mi"},
		{[]any{"limits", "cpu"}, "100m"}, {[]any{"limits", "memory"}, "64Mi"},
	} {
		if got := get(res, tc.path...); got != tc.want {
			t.Errorf("resources %v = %v, want %s", tc.path, got, tc.want)
		}
	}
	if exp.ReadinessProbe != nil || exp.LivenessProbe != nil {
		t.Errorf("the exporter has a probe: it must never make a Redis node unready or restart it")
	}
	if got := pod.Annotations; got[AnnotationScrape] != "true" || got[AnnotationPort] != "9121" || got[AnnotationPath] != "/metrics" {
		t.Errorf("pod annotations %v, want the scrape annotations", got)
	}
	svc := objs.MetricsService
	if svc == nil {
		t.Fatal("no metrics Service")
	}
	if got, want := *svc.Name, "cache-metrics"; got != want {
		t.Errorf("Service %q, want %q", got, want)
	}
	if *svc.Spec.ClusterIP != "None" || !*svc.Spec.PublishNotReadyAddresses || *svc.Spec.Ports[0].Port != 9121 || svc.Spec.Ports[0].TargetPort.StrVal != "metrics" {
		t.Errorf("metrics Service spec %v, want headless, not-ready addresses, port 9121 to metrics", generic(t, svc.Spec))
	}
	if objs.PodMonitor != nil {
		t.Errorf("a PodMonitor without monitoring.podMonitor")
	}
}

func TestExporterWithoutAuthHasNoEnv(t *testing.T) {
	c := testCluster()
	c.Spec.Monitoring = spec.Monitoring{Enabled: true, Port: 9200}
	c.SetDefaults()
	objs := mustRender(t, c)
	exp := objs.StatefulSet.Spec.Template.Spec.Containers[1]
	if len(exp.Env) != 0 {
		t.Errorf("env %v without auth, want none", generic(t, exp)["env"])
	}
	if got := *exp.Ports[0].ContainerPort; got != 9200 {
		t.Errorf("port %d, want 9200", got)
	}
}

func TestMonitoringOffRendersNothingOfIt(t *testing.T) {
	objs := mustRender(t, testCluster())
	pod := objs.StatefulSet.Spec.Template
	if n := len(pod.Spec.Containers); n != 1 {
		t.Errorf("%d containers, want redis alone", n)
	}
	if _, ok := pod.Annotations[AnnotationScrape]; ok {
		t.Errorf("scrape annotation without monitoring")
	}
	if objs.MetricsService != nil || objs.PodMonitor != nil {
		t.Errorf("metrics Service or PodMonitor without monitoring")
	}
}

func TestPodMonitorIsPrintedNotApplied(t *testing.T) {
	c := monitoredCluster()
	c.Spec.Monitoring.PodMonitor = true
	objs := mustRender(t, c)
	if objs.PodMonitor == nil {
		t.Fatal("no PodMonitor with monitoring.podMonitor")
	}
	for _, o := range objs.All() {
		if o == any(objs.PodMonitor) {
			t.Errorf("the PodMonitor is in All, which the daemon applies")
		}
	}
	y, err := objs.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(y), "kind: PodMonitor") {
		t.Errorf("YAML has no PodMonitor")
	}
}
