package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/redis-gitops/redis-gitops/sandbox/internal/kubelet"
	"github.com/redis-gitops/redis-gitops/sandbox/internal/supervisor"
)

// imagesEnv holds default image mappings, "NAME=PATH,NAME2=PATH2"; each
// --image flag adds one and wins over the same NAME here.
const imagesEnv = "SANDBOX_IMAGES"

// imageFlags collects repeated --image NAME=PATH flags.
type imageFlags []string

func (f *imageFlags) String() string     { return strings.Join(*f, ",") }
func (f *imageFlags) Set(v string) error { *f = append(*f, v); return nil }

// imageTable is the sandbox's image table: the defaults; kubectl images
// (bitnami/kubectl, registry.k8s.io/kubectl, any */kubectl) running the
// kubectl next to this binary, if there is one; then SANDBOX_IMAGES
// (env), then the --image flags, each overriding what came before.
func imageTable(env string, flags []string, kubectl string) (kubelet.ImageTable, error) {
	t := kubelet.DefaultImages.Clone()
	if kubectl != "" {
		if _, err := os.Stat(kubectl); err == nil {
			if err := t.MapProgram("kubectl", kubectl); err != nil {
				return nil, err
			}
		}
	}
	fromEnv, err := kubelet.ParseImageList(env)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", imagesEnv, err)
	}
	for k, img := range fromEnv {
		t[k] = img
	}
	for _, f := range flags {
		k, img, err := kubelet.ParseImageMapping(f)
		if err != nil {
			return nil, fmt.Errorf("--image: %w", err)
		}
		t[k] = img
	}
	return t, nil
}

// parse parses flags that may come before or after positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, exitCode(2)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", ".sandbox", "sandbox state dir")
}

func requireRoot() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the sandbox needs root (network namespaces, bridge, mounts); run it with sudo")
	}
	return nil
}

// binDir is where kube-apiserver and friends live: next to this binary.
func binDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "bin"
	}
	return filepath.Dir(exe)
}

func cmdUp(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	dir := dirFlag(fs)
	nodes := fs.Int("nodes", 3, "number of nodes")
	zones := fs.Int("zones", 0, "number of zones the nodes are spread over (default: one per node)")
	measure := fs.Bool("measure", false, "also replay the blog walkthrough's StatefulSet and time 6 pods Ready")
	var images imageFlags
	fs.Var(&images, "image", "NAME=PATH: run the local program PATH for images whose repository is NAME, any tag (repeatable; default from "+imagesEnv+"=NAME=PATH,...)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	// Checked here, so a bad mapping fails before anything starts; the
	// supervisor gets them as absolute paths.
	table, err := imageTable(os.Getenv(imagesEnv), images, filepath.Join(binDir(), "kubectl"))
	if err != nil {
		return err
	}
	if err := requireRoot(); err != nil {
		return err
	}
	if *nodes < 1 || *nodes > 26*27 {
		return fmt.Errorf("--nodes %d: want 1 to 702", *nodes)
	}
	names, err := supervisor.NamesFor(*dir)
	if err != nil {
		return err
	}
	if st, err := supervisor.NewClient(names.Socket).Status(ctx); err == nil {
		return fmt.Errorf("a sandbox already runs in %s (pid %d); use it, or `sandbox down --dir %s` first", names.Dir, st.Pid, *dir)
	}
	// Whatever a crashed earlier run left goes first.
	if err := supervisor.Sweep(ctx, names, true); err != nil {
		return fmt.Errorf("clean up an earlier sandbox in %s: %w", names.Dir, err)
	}
	if err := os.MkdirAll(filepath.Dir(names.LogFile), 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(names.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	start := time.Now()
	runArgs := []string{"run", "--dir", names.Dir, "--nodes", strconv.Itoa(*nodes), "--zones", strconv.Itoa(*zones)}
	for _, e := range table.Entries() {
		if e.Local {
			runArgs = append(runArgs, "--image", strings.TrimPrefix(e.Name, "*/")+"="+e.Runs)
		}
	}
	cmd := exec.Command(exe, runArgs...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own session: the sandbox outlives this command and the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sandbox supervisor: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fmt.Printf("starting sandbox in %s (%d nodes, Kubernetes %s); log: %s\n", names.Dir, *nodes, supervisor.KubernetesVersion, names.LogFile)

	client := supervisor.NewClient(names.Socket)
	var st supervisor.State
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err = client.Status(ctx)
		if err == nil && st.Ready {
			break
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("sandbox supervisor exited (%v) before ready; last lines of %s:\n%s", werr, names.LogFile, tail(names.LogFile, 20))
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("sandbox not ready after 5m; last lines of %s:\n%s", names.LogFile, tail(names.LogFile, 20))
		}
	}
	fmt.Printf("sandbox up: control plane ready in %.1f s, %d nodes Ready in %.1f s from start (measured by the supervisor; %.1f s for this command)\n",
		st.ControlPlaneSeconds, len(st.Nodes), st.StartupSeconds, time.Since(start).Seconds())
	printNodes(os.Stdout, st)
	if *measure {
		secs, err := measureWalkthrough(ctx, st.Kubeconfig)
		if err != nil {
			return fmt.Errorf("measure: %w", err)
		}
		fmt.Printf("walkthrough StatefulSet: 6 pods Ready %.1f s after apply\n", secs)
	}
	kubectl := filepath.Join(binDir(), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		kubectl = "kubectl" // make demo builds none; make kubectl does
	}
	fmt.Printf(`
Use it:
  export KUBECONFIG=%s
  %s get nodes -L topology.kubernetes.io/zone
  %s/sandbox status --dir %s
  %s/sandbox node kill|start|partition|heal sandbox-node-a --dir %s
Stop it (leaves nothing behind):
  %s/sandbox down --dir %s
`, st.Kubeconfig, kubectl, binDir(), *dir, binDir(), *dir, binDir(), *dir)
	return nil
}

func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	dir := dirFlag(fs)
	nodes := fs.Int("nodes", 3, "")
	zones := fs.Int("zones", 0, "")
	var images imageFlags
	fs.Var(&images, "image", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := requireRoot(); err != nil {
		return err
	}
	// `up` resolved SANDBOX_IMAGES and kubectl into flags already.
	table, err := imageTable("", images, "")
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	err = supervisor.Run(ctx, supervisor.Options{Dir: *dir, Nodes: *nodes, Zones: *zones, BinDir: binDir(), Images: table, Log: log},
		func(st supervisor.State) { log.Info("sandbox ready", "startupSeconds", st.StartupSeconds) })
	if err != nil {
		log.Error("sandbox stopped", "err", err)
		return exitCode(1)
	}
	log.Info("sandbox stopped")
	return nil
}

func cmdDown(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("down", flag.ContinueOnError)
	dir := dirFlag(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := requireRoot(); err != nil {
		return err
	}
	names, err := supervisor.NamesFor(*dir)
	if err != nil {
		return err
	}
	if st, err := supervisor.NewClient(names.Socket).Status(ctx); err == nil {
		// The supervisor stops pods gracefully, then the control plane.
		_ = syscall.Kill(st.Pid, syscall.SIGTERM)
		if !waitGone(st.Pid, 2*time.Minute) {
			fmt.Fprintf(os.Stderr, "sandbox: supervisor %d did not stop in 2m; killing it\n", st.Pid)
			_ = syscall.Kill(st.Pid, syscall.SIGKILL)
			waitGone(st.Pid, 10*time.Second)
		}
	}
	if err := supervisor.Sweep(ctx, names, true); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox: cleanup:", err)
	}
	if left := supervisor.Leftovers(names); len(left) > 0 {
		return fmt.Errorf("sandbox in %s is down but these remain:\n  %s", names.Dir, strings.Join(left, "\n  "))
	}
	fmt.Printf("sandbox in %s is down; nothing left behind\n", names.Dir)
	return nil
}

func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func cmdStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	dir := dirFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	names, err := supervisor.NamesFor(*dir)
	if err != nil {
		return err
	}
	st, err := supervisor.NewClient(names.Socket).Status(ctx)
	if err != nil {
		fmt.Printf("no sandbox runs in %s\n", names.Dir)
		if left := supervisor.Leftovers(names); len(left) > 0 {
			fmt.Printf("leftovers of an earlier one (`sandbox down --dir %s` removes them):\n  %s\n", *dir, strings.Join(left, "\n  "))
		}
		return exitCode(3)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Printf("sandbox in %s: Kubernetes %s, supervisor pid %d\nkubeconfig: %s\npod network: %s on bridge %s\n",
		st.Dir, st.Version, st.Pid, st.Kubeconfig, st.PodCIDR, st.Bridge)
	fmt.Printf("service proxy: %d listening ports (nodePorts on every running node's EXTERNAL and ADDRESS; LoadBalancers from %s)\n",
		st.ServiceProxy.Listeners, st.LoadBalancerRange)
	fmt.Printf("api server for pods: https://%s (KUBERNETES_SERVICE_HOST/PORT in every container)\n", st.PodAPIServer)
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "IMAGE (ANY TAG)\tRUNS")
	for _, e := range st.Images {
		what := "host program"
		if e.Local {
			what = "local program, at " + kubelet.ProgramDir + " in the container"
		}
		fmt.Fprintf(w, "%s\t%s (%s)\n", e.Name, e.Runs, what)
	}
	w.Flush()
	lbs := make([]string, 0, len(st.ServiceProxy.LoadBalancers))
	for svc, ip := range st.ServiceProxy.LoadBalancers {
		lbs = append(lbs, "  LoadBalancer "+svc+": "+ip)
	}
	sort.Strings(lbs)
	for _, l := range lbs {
		fmt.Println(l)
	}
	fmt.Println()
	w = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "COMPONENT\tPID\tRUNNING\tLOG")
	for _, c := range st.Components {
		fmt.Fprintf(w, "%s\t%d\t%v\t%s\n", c.Name, c.Pid, c.Running, c.LogPath)
	}
	w.Flush()
	fmt.Println()
	printNodes(os.Stdout, st)
	fmt.Println()
	w = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "POD\tNODE\tIP\tPHASE")
	for _, n := range st.Nodes {
		for _, p := range n.Pods {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.Name, n.Name, p.IP, p.Phase)
		}
	}
	return w.Flush()
}

func printNodes(out io.Writer, st supervisor.State) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NODE\tZONE\tADDRESS\tEXTERNAL\tSTATE\tPODS")
	for _, n := range st.Nodes {
		state := "running"
		switch {
		case !n.Running:
			state = "killed"
		case n.Partitioned:
			state = "partitioned"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\n", n.Name, n.Zone, n.Address, n.ExternalAddress, state, len(n.Pods))
	}
	w.Flush()
}

func cmdNode(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	dir := dirFlag(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("usage: sandbox node kill|start|partition|heal NAME [--dir DIR]")
	}
	names, err := supervisor.NamesFor(*dir)
	if err != nil {
		return err
	}
	if err := supervisor.NewClient(names.Socket).Node(ctx, pos[1], pos[0]); err != nil {
		return fmt.Errorf("node %s %s: %w", pos[0], pos[1], err)
	}
	fmt.Printf("node %s: %s done\n", pos[1], pos[0])
	return nil
}

func cmdPod(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pod", flag.ContinueOnError)
	dir := dirFlag(fs)
	container := fs.String("c", "", "container (default: the pod's only container)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	ns, name, ok := strings.Cut(strings.Join(pos[1:], ""), "/")
	if len(pos) != 2 || pos[0] != "kill" || !ok {
		return fmt.Errorf("usage: sandbox pod kill NAMESPACE/NAME [-c CONTAINER] [--dir DIR]")
	}
	names, err := supervisor.NamesFor(*dir)
	if err != nil {
		return err
	}
	if err := supervisor.NewClient(names.Socket).KillContainer(ctx, ns, name, *container); err != nil {
		return fmt.Errorf("pod kill %s/%s: %w", ns, name, err)
	}
	fmt.Printf("pod %s/%s: container killed\n", ns, name)
	return nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
