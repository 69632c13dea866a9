package adopt

import (
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/redis-gitops/redis-gitops/reconcile/topology"
)

// walkthroughConfig is CONFIG GET * of a node of the blog's cluster
// (sandbox/walkthrough): Redis 7.0's defaults, then its redis.conf and
// the image's working directory /data.
func walkthroughConfig(ip string) map[string]string {
	c := maps.Clone(redisDefaults)
	c["cluster-enabled"] = "yes"
	c["cluster-require-full-coverage"] = "no"
	c["cluster-node-timeout"] = "15000"
	c["cluster-config-file"] = "/data/nodes.conf"
	c["cluster-migration-barrier"] = "1"
	c["appendonly"] = "yes"
	c["protected-mode"] = "no"
	c["dir"] = "/data"
	c["cluster-announce-ip"] = ip
	return c
}

// fixture is a Live of the cluster whose CLUSTER NODES (as its first node
// prints it) is testdata/file: every node read, each with its own view (the
// same table, itself flagged myself), the walkthrough's settings, Redis
// 7.0.15, and no pod. edit, if not nil, changes node i.
func fixture(t *testing.T, file string, edit func(i int, n *Node)) Live {
	t.Helper()
	data, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	view, err := topology.ParseClusterNodes(string(data))
	if err != nil {
		t.Fatal(err)
	}
	live := Live{Namespace: "shop", Port: 6379}
	for i, c := range view {
		own := make([]topology.ClusterNode, len(view))
		for j, o := range view {
			o.Flags = slices.DeleteFunc(slices.Clone(o.Flags), func(f string) bool { return f == "myself" })
			if j == i {
				o.Flags = append([]string{"myself"}, o.Flags...)
			} else {
				o.Open = nil // only a node itself prints its open slots
			}
			own[j] = o
		}
		n := Node{
			Addr:    net.JoinHostPort(c.IP, strconv.Itoa(c.Port)),
			Pod:     fmt.Sprintf("redis-cluster-%d", i),
			Version: "7.0.15",
			Config:  walkthroughConfig(c.IP),
			View:    own,
		}
		if edit != nil {
			edit(i, &n)
		}
		live.Nodes = append(live.Nodes, n)
	}
	return live
}

// withPod adds the walkthrough's first pod and its StatefulSet to live.
func withPod(live Live) Live {
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "redis-cluster", Namespace: "shop"},
		Spec: appsv1.StatefulSetSpec{
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("200Mi")},
				}},
			}},
		},
	}
	live.StatefulSet = sts
	live.Pod = &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "redis-cluster-0", Namespace: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "redis",
			Image: "redis:6.0.9",
			Ports: []corev1.ContainerPort{{Name: "client", ContainerPort: 6379}, {Name: "gossip", ContainerPort: 16379}},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "conf", MountPath: "/conf"},
				{Name: "data", MountPath: "/data"},
			},
		}}},
	}
	return live
}
