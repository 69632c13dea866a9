// Package walkthrough holds the manifests of the blog post the sandbox must
// replay (../shared/seed), as written, and applies them.
package walkthrough

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
)

// Manifests is the ConfigMap, StatefulSet and headless Service of the post.
//
//go:embed redis-statefulset.yaml
var Manifests []byte

// Replicas is the StatefulSet's replica count in the post.
const Replicas = 6

// Apply creates the post's objects in namespace.
func Apply(ctx context.Context, client kubernetes.Interface, namespace string) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(Manifests), 4096)
	for {
		var raw runtime.RawExtension
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("walkthrough manifests: %w", err)
		}
		if len(bytes.TrimSpace(raw.Raw)) == 0 || string(bytes.TrimSpace(raw.Raw)) == "null" {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(raw.Raw, nil, nil)
		if err != nil {
			return fmt.Errorf("walkthrough manifests: %w", err)
		}
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			_, err = client.CoreV1().ConfigMaps(namespace).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Service:
			_, err = client.CoreV1().Services(namespace).Create(ctx, o, metav1.CreateOptions{})
		case *appsv1.StatefulSet:
			_, err = client.AppsV1().StatefulSets(namespace).Create(ctx, o, metav1.CreateOptions{})
		default:
			err = fmt.Errorf("unexpected %T", obj)
		}
		if err != nil {
			return fmt.Errorf("walkthrough: create in %s: %w", namespace, err)
		}
	}
}

// WaitReady waits until n pods with app=redis-cluster are Ready in namespace
// and returns them.
func WaitReady(ctx context.Context, client kubernetes.Interface, namespace string, n int, timeout time.Duration) ([]corev1.Pod, error) {
	deadline := time.Now().Add(timeout)
	for {
		list, err := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=redis-cluster"})
		var ready []corev1.Pod
		if err == nil {
			for _, p := range list.Items {
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
						ready = append(ready, p)
					}
				}
			}
			if len(ready) >= n {
				return ready, nil
			}
		}
		if time.Now().After(deadline) {
			return ready, fmt.Errorf("walkthrough: %d of %d pods Ready in %s after %s (last error: %v)", len(ready), n, namespace, timeout, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
