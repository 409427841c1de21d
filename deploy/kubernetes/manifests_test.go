package kubernetes_test

import (
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/lookout-synthetics/lookout/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveBinaries()
	os.Exit(code)
}

// The parts of the manifests the tests read; yaml ignores the rest.
type statefulSet struct {
	Kind string
	Spec struct {
		Replicas    int
		ServiceName string `yaml:"serviceName"`
		Template    struct {
			Spec podSpec
		}
		VolumeClaimTemplates []struct {
			Metadata struct{ Name string }
		} `yaml:"volumeClaimTemplates"`
	}
}

type podSpec struct {
	SecurityContext struct {
		RunAsNonRoot *bool  `yaml:"runAsNonRoot"`
		RunAsUser    *int64 `yaml:"runAsUser"`
		FSGroup      *int64 `yaml:"fsGroup"`
	} `yaml:"securityContext"`
	Containers []container
	Volumes    []volume
}

type volume struct {
	Name   string
	Secret *struct {
		SecretName string `yaml:"secretName"`
		Items      []keyToPath
	}
	ConfigMap *struct {
		Name  string
		Items []keyToPath
	} `yaml:"configMap"`
}

type keyToPath struct{ Key, Path string }

type container struct {
	Name, Image string
	Command     []string
	Args        []string
	Env         []struct{ Name, Value string }
	Ports       []struct {
		Name          string
		ContainerPort int `yaml:"containerPort"`
	}
	Resources struct {
		Requests, Limits map[string]string
	}
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		Privileged               *bool
		Capabilities             struct{ Add, Drop []string }
	} `yaml:"securityContext"`
	StartupProbe   *probe `yaml:"startupProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	VolumeMounts   []struct {
		Name      string
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type probe struct {
	HTTPGet *struct {
		Path string
		Port string
	} `yaml:"httpGet"`
}

type kustomization struct {
	Resources          []string
	SecretGenerator    []generator `yaml:"secretGenerator"`
	ConfigMapGenerator []generator `yaml:"configMapGenerator"`
	Images             []struct {
		Name string
	}
}

type generator struct {
	Name  string
	Files []string
}

func decodeFile(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("parsing %s: %v", file, err)
	}
}

// agentContainer is the StatefulSet's one container.
func agentContainer(t *testing.T) (statefulSet, container) {
	t.Helper()
	var s statefulSet
	decodeFile(t, "statefulset.yaml", &s)
	if s.Kind != "StatefulSet" || len(s.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("statefulset.yaml: want a StatefulSet with one container, got kind %q with %d", s.Kind, len(s.Spec.Template.Spec.Containers))
	}
	return s, s.Spec.Template.Spec.Containers[0]
}

var usageFlag = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

// helpFlags runs the built binary with args and -h and returns the flags its usage lists.
func helpFlags(t *testing.T, bin string, args ...string) map[string]bool {
	t.Helper()
	out, _ := exec.CommandContext(t.Context(), bin, append(args, "-h")...).CombinedOutput() // -h may exit non-zero
	flags := map[string]bool{}
	for _, m := range usageFlag.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if len(flags) < 3 {
		t.Fatalf("%s %v -h listed %d flags:\n%s", bin, args, len(flags), out)
	}
	return flags
}

// parseArgs reads "--name=value", "--name value" and "-name value" into a map; a flag followed by
// another flag (or by nothing) has the value "".
func parseArgs(t *testing.T, args []string) map[string]string {
	t.Helper()
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			t.Fatalf("argument %q is not a flag (in %q)", a, args)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			value, i = args[i+1], i+1
		}
		flags[name] = value
	}
	return flags
}

func checkFlagsExist(t *testing.T, where string, flags map[string]string, known map[string]bool) {
	t.Helper()
	for name := range flags {
		if !known[name] {
			t.Errorf("%s passes --%s, which the binary does not have", where, name)
		}
	}
}

func TestStatefulSetFlagsExistInAgent(t *testing.T) {
	t.Parallel()
	_, agent := testutil.Binaries(t)
	known := helpFlags(t, agent)
	_, c := agentContainer(t)
	flags := parseArgs(t, c.Args)
	checkFlagsExist(t, "statefulset.yaml", flags, known)
	for _, want := range []string{"controller", "token-file", "ca-file", "state-dir", "metrics-listen"} {
		if flags[want] == "" {
			t.Errorf("statefulset.yaml: --%s is not set", want)
		}
	}
}

// mountedAt returns the volume mounted at the directory holding file.
func mountedAt(t *testing.T, c container, dir string) string {
	t.Helper()
	for _, m := range c.VolumeMounts {
		if path.Clean(m.MountPath) == path.Clean(dir) {
			return m.Name
		}
	}
	t.Errorf("no volume is mounted at %s", dir)
	return ""
}

func TestMountsMatchFlags(t *testing.T) {
	t.Parallel()
	s, c := agentContainer(t)
	flags := parseArgs(t, c.Args)
	var k kustomization
	decodeFile(t, "kustomization.yaml", &k)

	if v := mountedAt(t, c, flags["state-dir"]); len(s.Spec.VolumeClaimTemplates) != 1 || v != s.Spec.VolumeClaimTemplates[0].Metadata.Name {
		t.Errorf("--state-dir %s: want the volume claim template's volume, got %q", flags["state-dir"], v)
	}
	for _, f := range []struct {
		flag, kind string
		made       map[string][]string // generator name → the keys it makes
	}{
		{"token-file", "secret", generated(k.SecretGenerator)},
		{"ca-file", "configMap", generated(k.ConfigMapGenerator)},
	} {
		file := flags[f.flag]
		v := mountedAt(t, c, path.Dir(file))
		i := slices.IndexFunc(s.Spec.Template.Spec.Volumes, func(vol volume) bool { return vol.Name == v })
		if i < 0 {
			t.Errorf("--%s %s: volume %q is not declared", f.flag, file, v)
			continue
		}
		kind, name, items := s.Spec.Template.Spec.Volumes[i].source()
		key := itemKey(items, path.Base(file))
		if kind != f.kind || !slices.Contains(f.made[name], key) {
			t.Errorf("--%s %s: volume %q is key %q of %s %q; want a key the kustomization's %s generator makes (%v)",
				f.flag, file, v, key, kind, name, f.kind, f.made)
		}
	}
}

// source is the kind and name of what the volume projects, and the keys it projects to which files.
func (v volume) source() (kind, name string, items []keyToPath) {
	switch {
	case v.Secret != nil:
		return "secret", v.Secret.SecretName, v.Secret.Items
	case v.ConfigMap != nil:
		return "configMap", v.ConfigMap.Name, v.ConfigMap.Items
	}
	return "other", "", nil
}

func generated(gs []generator) map[string][]string {
	out := map[string][]string{}
	for _, g := range gs {
		out[g.Name] = g.Files
	}
	return out
}

// itemKey is the key projected to file name p (the key itself when the volume lists no items).
func itemKey(items []keyToPath, p string) string {
	if len(items) == 0 {
		return p
	}
	for _, it := range items {
		if it.Path == p {
			return it.Key
		}
	}
	return ""
}

func TestMetricsPortAndProbes(t *testing.T) {
	t.Parallel()
	_, c := agentContainer(t)
	listen := parseArgs(t, c.Args)["metrics-listen"]
	_, port, ok := strings.Cut(listen, ":")
	if !ok || len(c.Ports) != 1 || c.Ports[0].Name != "metrics" || strconv.Itoa(c.Ports[0].ContainerPort) != port {
		t.Fatalf("--metrics-listen %q: want one container port named metrics on the same port, got %+v", listen, c.Ports)
	}
	for name, p := range map[string]*probe{"startupProbe": c.StartupProbe, "readinessProbe": c.ReadinessProbe, "livenessProbe": c.LivenessProbe} {
		// /metrics is all the agent serves (agent/main.go serveMetrics).
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/metrics" || p.HTTPGet.Port != "metrics" {
			t.Errorf("%s: want httpGet /metrics on port metrics, got %+v", name, p)
		}
	}
}

func TestSecurityContext(t *testing.T) {
	t.Parallel()
	s, c := agentContainer(t)
	pod := s.Spec.Template.Spec.SecurityContext
	if pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	// The image is FROM scratch with no USER, so runAsNonRoot needs a numeric UID here.
	if pod.RunAsUser == nil || *pod.RunAsUser == 0 || pod.FSGroup == nil {
		t.Error("pod securityContext: want a non-zero runAsUser and an fsGroup so that it can write --state-dir")
	}
	sc := c.SecurityContext
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("container securityContext.allowPrivilegeEscalation is not false")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("container securityContext.readOnlyRootFilesystem is not true")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("container is privileged")
	}
	if diff := cmp.Diff(sc.Capabilities.Drop, []string{"ALL"}); diff != "" || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities: want drop [ALL] and no add, got add %q (-got +want drop):\n%s", sc.Capabilities.Add, diff)
	}
}

// composeFile is the parts of deploy/docker/docker-compose.yml the tests read.
type composeFile struct {
	Services map[string]struct {
		Image   string
		Command []string
	}
}

func TestImageIsWhatDockerBuilds(t *testing.T) {
	t.Parallel()
	_, c := agentContainer(t)
	dockerfile, err := os.ReadFile("../docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// The Dockerfile sets an ENTRYPOINT; a `command` would replace the agent itself.
	if !regexp.MustCompile(`(?m)^ENTRYPOINT \["/app"\]`).Match(dockerfile) || len(c.Command) > 0 {
		t.Errorf("want the image's ENTRYPOINT [\"/app\"] and the flags in args, got command %q", c.Command)
	}
	var compose composeFile
	decodeFile(t, "../docker/docker-compose.yml", &compose)
	repo, _, _ := strings.Cut(compose.Services["agent-private"].Image, ":")
	if got, _, _ := strings.Cut(c.Image, ":"); got != repo || repo == "" {
		t.Errorf("image %q: want the repository docker-compose.yml and docs/docker.md build for the agent, %q", c.Image, repo)
	}
	var k kustomization
	decodeFile(t, "kustomization.yaml", &k)
	if len(k.Images) != 1 || k.Images[0].Name != repo {
		t.Errorf("kustomization images: want one entry for %q, got %+v", repo, k.Images)
	}
}

func TestOneIdentityPerReplica(t *testing.T) {
	t.Parallel()
	s, c := agentContainer(t)
	if s.Spec.Replicas != 2 {
		t.Errorf("replicas: got %d, want 2", s.Spec.Replicas)
	}
	if _, ok := parseArgs(t, c.Args)["instance-name"]; ok {
		t.Error("--instance-name is set: every replica would show under one name; the default (the pod's name) differs per replica")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "--uses " + strconv.Itoa(s.Spec.Replicas); !strings.Contains(string(readme), want) {
		t.Errorf("README.md: the token command should say %s, one use per replica", want)
	}
}

// mebibytes reads a Kubernetes memory quantity given in Mi or Gi.
func mebibytes(t *testing.T, q string) float64 {
	t.Helper()
	n, err := strconv.ParseFloat(strings.TrimRight(q, "MGi"), 64)
	switch {
	case err != nil:
		t.Fatalf("memory quantity %q: %v", q, err)
	case strings.HasSuffix(q, "Gi"):
		return n * 1024
	case !strings.HasSuffix(q, "Mi"):
		t.Fatalf("memory quantity %q: want Mi or Gi", q)
	}
	return n
}

// benchFigure reads a figure from docs/benchmarks.md, as a table row ("name  value ...") or as
// "name=value".
func benchFigure(t *testing.T, doc []byte, name string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `(?:=|\s+)([0-9.]+)`).FindSubmatch(doc)
	if m == nil {
		t.Fatalf("docs/benchmarks.md has no figure %s", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestResourcesCoverBenchmarks(t *testing.T) {
	t.Parallel()
	_, c := agentContainer(t)
	doc, err := os.ReadFile("../../docs/benchmarks.md")
	if err != nil {
		t.Fatal(err)
	}
	idle, busy := benchFigure(t, doc, "agent_idle_rss_mib"), benchFigure(t, doc, "agent_rss_mib_500")
	request, limit := mebibytes(t, c.Resources.Requests["memory"]), mebibytes(t, c.Resources.Limits["memory"])
	if request < idle || limit < busy || request > limit {
		t.Errorf("memory request %v MiB, limit %v MiB: want request ≥ idle RSS %v and limit ≥ RSS at 500 in flight %v", request, limit, idle, busy)
	}
	if c.Resources.Requests["cpu"] == "" {
		t.Error("no cpu request")
	}
	i := slices.IndexFunc(c.Env, func(e struct{ Name, Value string }) bool { return e.Name == "GOMEMLIMIT" })
	if i < 0 || mebibytes(t, strings.TrimSuffix(c.Env[i].Value, "B")) >= limit {
		t.Errorf("want GOMEMLIMIT a little under the memory limit %v MiB (docs/docker.md)", limit)
	}
}

// TestDockerAndSystemdFlagsExist keeps the other deployments true to the binaries' flags too.
func TestDockerAndSystemdFlagsExist(t *testing.T) {
	t.Parallel()
	controller, agent := testutil.Binaries(t)
	agentFlags, serveFlags := helpFlags(t, agent), helpFlags(t, controller, "serve")
	var compose composeFile
	decodeFile(t, "../docker/docker-compose.yml", &compose)
	for name, svc := range compose.Services {
		switch {
		case strings.HasPrefix(svc.Image, "lookout-agent:"):
			checkFlagsExist(t, "docker-compose.yml service "+name, parseArgs(t, svc.Command), agentFlags)
		case strings.HasPrefix(svc.Image, "lookout-controller:"):
			if len(svc.Command) == 0 || svc.Command[0] != "serve" {
				t.Fatalf("docker-compose.yml service %s: want the command serve, got %q", name, svc.Command)
			}
			checkFlagsExist(t, "docker-compose.yml service "+name, parseArgs(t, svc.Command[1:]), serveFlags)
		}
	}
	unit, err := os.ReadFile("../systemd/lookout-agent.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ExecStart=\S+((?:.*\\\n)*.*)$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("lookout-agent.service has no ExecStart")
	}
	checkFlagsExist(t, "lookout-agent.service", parseArgs(t, strings.Fields(strings.ReplaceAll(string(m[1]), "\\\n", " "))), agentFlags)
}

func TestKustomizationNamesEveryManifest(t *testing.T) {
	t.Parallel()
	s, _ := agentContainer(t)
	var k kustomization
	decodeFile(t, "kustomization.yaml", &k)
	if diff := cmp.Diff(k.Resources, []string{"service.yaml", "statefulset.yaml"}); diff != "" {
		t.Errorf("kustomization resources (-got +want):\n%s", diff)
	}
	var svc struct {
		Kind     string
		Metadata struct{ Name string }
		Spec     struct {
			ClusterIP string `yaml:"clusterIP"`
		}
	}
	decodeFile(t, "service.yaml", &svc)
	if svc.Kind != "Service" || svc.Metadata.Name != s.Spec.ServiceName || svc.Spec.ClusterIP != "None" {
		t.Errorf("service.yaml: want the headless Service %q the StatefulSet names, got %+v", s.Spec.ServiceName, svc)
	}
}

// TestKustomizeBuilds renders the kustomization as `kubectl apply -k` would, with stand-ins for the
// two files an operator adds, and checks the StatefulSet points at the generated Secret and ConfigMap.
func TestKustomizeBuilds(t *testing.T) {
	t.Parallel()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	dir := t.TempDir()
	for _, f := range []string{"kustomization.yaml", "service.yaml", "statefulset.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for f, content := range map[string]string{"token": "stand-in\n", "ca.pem": "stand-in\n"} {
		if err := os.WriteFile(path.Join(dir, f), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.CommandContext(t.Context(), kubectl, "kustomize", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v\n%s", err, out)
	}
	for _, want := range []string{"kind: StatefulSet", "secretName: lookout-checkpoint-token-", "name: lookout-controller-ca-"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl kustomize output lacks %q:\n%s", want, out)
		}
	}
}
