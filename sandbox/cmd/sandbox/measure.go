package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/redis-gitops/redis-gitops/sandbox/walkthrough"
)

// measureWalkthrough applies the blog's objects in a namespace of their own,
// times the StatefulSet's pods to Ready, and deletes the namespace again.
func measureWalkthrough(ctx context.Context, kubeconfig string) (float64, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return 0, err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	ns := fmt.Sprintf("sandbox-measure-%d", time.Now().Unix())
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	defer func() {
		_ = client.CoreV1().Namespaces().Delete(context.WithoutCancel(ctx), ns, metav1.DeleteOptions{})
	}()
	start := time.Now()
	if err := walkthrough.Apply(ctx, client, ns); err != nil {
		return 0, err
	}
	if _, err := walkthrough.WaitReady(ctx, client, ns, walkthrough.Replicas, 3*time.Minute); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}
