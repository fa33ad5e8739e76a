package deploy

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/regiond/regiond"
	"github.com/regiond/regiond/internal/app"
	"github.com/regiond/regiond/internal/secrets"
)

const (
	root     = ".."
	manifest = "kubernetes"
)

// secretEnv are the variables that carry secrets: they must come from a Secret, never a literal.
var secretEnv = []string{"REGIOND_DATABASE", "REGIOND_ADMIN_TOKEN", "REGIOND_SECRET_KEY"}

// runtimeEnv are the non-regiond variables a manifest may set: the Go runtime's.
var runtimeEnv = []string{"GOMEMLIMIT", "GOMAXPROCS", "GOGC", "GODEBUG"}

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

// manifests are the decoded files of deploy/kubernetes.
type manifests struct {
	kustomization kustomization
	deployment    *appsv1.Deployment
	service       *corev1.Service
	pdb           *policyv1.PodDisruptionBudget
	secretExample *corev1.Secret
}

// load decodes every manifest into its Kubernetes type, strictly: a misspelt or misplaced field
// (which kubectl would reject, or silently drop) fails here.
func load(t *testing.T) manifests {
	t.Helper()
	var m manifests
	files, err := filepath.Glob(filepath.Join(manifest, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", manifest, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(data, []byte("\n---")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			var meta struct {
				Kind string `json:"kind"`
			}
			if err := yaml.Unmarshal(doc, &meta); err != nil {
				t.Fatalf("%s document %d: %v", file, i+1, err)
			}
			var into any
			switch meta.Kind {
			case "Kustomization":
				into = &m.kustomization
			case "Deployment":
				m.deployment = &appsv1.Deployment{}
				into = m.deployment
			case "Service":
				m.service = &corev1.Service{}
				into = m.service
			case "PodDisruptionBudget":
				m.pdb = &policyv1.PodDisruptionBudget{}
				into = m.pdb
			case "Secret":
				if filepath.Base(file) != "secret.example.yaml" {
					t.Fatalf("%s: a Secret outside secret.example.yaml: secrets are not kept in the repository", file)
				}
				m.secretExample = &corev1.Secret{}
				into = m.secretExample
			default:
				t.Fatalf("%s: unexpected kind %q (add it to this test)", file, meta.Kind)
			}
			if err := yaml.UnmarshalStrict(doc, into); err != nil {
				t.Fatalf("%s document %d: %v", file, i+1, err)
			}
		}
	}
	if m.deployment == nil || m.service == nil || m.pdb == nil || m.secretExample == nil || m.kustomization.Kind == "" {
		t.Fatal("want a Kustomization, a Deployment, a Service, a PodDisruptionBudget and the example Secret")
	}
	return m
}

func (m manifests) container(t *testing.T) corev1.Container {
	t.Helper()
	cs := m.deployment.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "regiond" {
		t.Fatalf("want one container named regiond, got %d", len(cs))
	}
	return cs[0]
}

// TestKustomization: every manifest is listed but the example Secret, and the image it sets is
// the Deployment's.
func TestKustomization(t *testing.T) {
	m := load(t)
	k := m.kustomization
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" {
		t.Errorf("kustomization apiVersion %q", k.APIVersion)
	}
	files, _ := filepath.Glob(filepath.Join(manifest, "*.yaml"))
	for _, f := range files {
		name := filepath.Base(f)
		listed := slices.Contains(k.Resources, name)
		switch name {
		case "kustomization.yaml":
		case "secret.example.yaml":
			if listed {
				t.Error("secret.example.yaml is listed in kustomization.yaml: its placeholders would be applied")
			}
		default:
			if !listed {
				t.Errorf("%s is not listed in kustomization.yaml resources", name)
			}
		}
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(manifest, r)); err != nil {
			t.Errorf("kustomization resource %s: %v", r, err)
		}
	}
	image := m.container(t).Image
	if len(k.Images) != 1 || k.Images[0].Name != image || k.Images[0].NewName == "" || k.Images[0].NewTag == "" {
		t.Errorf("kustomization images must rewrite the Deployment's image %q to a name and tag: %+v", image, k.Images)
	}
}

// regiondEnv returns the environment variables regiond reads: one per flag (as `serve --help`
// shows them) and the secrets read from the environment only (as `--help` names them).
func regiondEnv(t *testing.T) []string {
	t.Helper()
	help := func(args ...string) string {
		var out bytes.Buffer
		if code := app.Main(args, &out, &out); code != 0 {
			t.Fatalf("regiond %s: exit %d: %s", strings.Join(args, " "), code, out.String())
		}
		return out.String()
	}
	var names []string
	for _, m := range regexp.MustCompile(`\(\$(REGIOND_[A-Z0-9_]+)\)`).FindAllStringSubmatch(help("serve", "--help"), -1) {
		names = append(names, m[1])
	}
	only := regexp.MustCompile(`environment only:\s*((?:REGIOND_[A-Z0-9_]+,?\s*)+)`).FindStringSubmatch(help("--help"))
	if len(names) < 10 || only == nil {
		t.Fatalf("could not read regiond's variables from its help (%d flags)", len(names))
	}
	names = append(names, regexp.MustCompile(`REGIOND_[A-Z0-9_]+`).FindAllString(only[1], -1)...)
	return names
}

// effectiveServe is the serve configuration regiond derives from env (defaults for the rest),
// parsed by the same kong setup as app.Main.
func effectiveServe(t *testing.T, env map[string]string) app.ServeCmd {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var cli app.CLI
	parser, err := app.NewParser(&cli, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse([]string{"serve"}); err != nil {
		t.Fatalf("regiond refuses the manifest's environment: %v", err)
	}
	return cli.Serve
}

// TestDeploymentEnvironment: every variable is one regiond reads, secrets come from the Secret,
// and the values parse as regiond parses them.
func TestDeploymentEnvironment(t *testing.T) {
	m := load(t)
	c := m.container(t)
	known := regiondEnv(t)
	env := map[string]string{}
	seen := map[string]bool{}
	for _, e := range c.Env {
		if seen[e.Name] {
			t.Errorf("%s is set twice", e.Name)
		}
		seen[e.Name] = true
		switch {
		case strings.HasPrefix(e.Name, "REGIOND_"):
			if !slices.Contains(known, e.Name) {
				t.Errorf("%s is not a variable regiond reads (see regiond serve --help)", e.Name)
			}
		case !slices.Contains(runtimeEnv, e.Name):
			t.Errorf("%s is neither regiond's nor the Go runtime's", e.Name)
		}
		if slices.Contains(secretEnv, e.Name) {
			ref := (*corev1.SecretKeySelector)(nil)
			if e.ValueFrom != nil {
				ref = e.ValueFrom.SecretKeyRef
			}
			if e.Value != "" || ref == nil {
				t.Errorf("%s must come from a secretKeyRef, never a literal value", e.Name)
				continue
			}
			if ref.Name != m.secretExample.Name {
				t.Errorf("%s reads Secret %q; the example Secret is %q", e.Name, ref.Name, m.secretExample.Name)
			}
			if _, ok := m.secretExample.StringData[ref.Key]; !ok {
				t.Errorf("%s reads key %q, which secret.example.yaml does not show", e.Name, ref.Key)
			}
			continue
		}
		if e.ValueFrom != nil {
			t.Errorf("%s: only the secrets come from elsewhere", e.Name)
		}
		if strings.HasPrefix(e.Name, "REGIOND_") {
			env[e.Name] = e.Value
		}
	}
	for _, name := range append(secretEnv, "REGIOND_CACHE_STALENESS", "REGIOND_SHUTDOWN_DELAY", "REGIOND_DRAIN_TIMEOUT") {
		if !seen[name] {
			t.Errorf("%s is not set", name)
		}
	}
	env["REGIOND_DATABASE"] = "mysql://u:p@tcp(mysql:3306)/regiond" // the Secret's shape
	s := effectiveServe(t, env)
	if !strings.HasPrefix(s.Database, "mysql://") {
		t.Errorf("database %q", s.Database)
	}
	if s.ShutdownDelay <= 0 {
		t.Error("REGIOND_SHUTDOWN_DELAY must be positive: readiness has to fail before the listener closes")
	}
	if s.CacheStaleness < 10*time.Millisecond {
		t.Errorf("cache staleness %v", s.CacheStaleness)
	}
	// A load balancer probing /readyz as the kubelet does sees a shutting-down replica (which
	// answers 503 at once) go within periodSeconds x failureThreshold; the delay must outlast that
	// by a period at least, or connections still arrive after the listener closes.
	if rp := c.ReadinessProbe; rp != nil {
		period := time.Duration(rp.PeriodSeconds) * time.Second
		if seen := period * time.Duration(rp.FailureThreshold); s.ShutdownDelay < seen+period {
			t.Errorf("shutdown delay %v: a load balancer probing /readyz every %v may send to a stopping replica for %v; want a delay of at least %v",
				s.ShutdownDelay, period, seen, seen+period)
		}
	}
	grace := time.Duration(deref(m.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds)) * time.Second
	if grace <= s.ShutdownDelay+s.DrainTimeout {
		t.Errorf("terminationGracePeriodSeconds %v must exceed shutdown delay %v + drain timeout %v, or the kubelet kills in-flight requests",
			grace, s.ShutdownDelay, s.DrainTimeout)
	}

	// The memory the Go runtime aims under is below the container's limit.
	limit := c.Resources.Limits.Memory()
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			if n, err := goMemLimit(e.Value); err != nil || limit.IsZero() || n >= limit.Value() {
				t.Errorf("GOMEMLIMIT %q must be below the memory limit %v (%v)", e.Value, limit, err)
			}
		}
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// goMemLimit parses a GOMEMLIMIT value: bytes with an optional B, KiB, MiB, GiB or TiB suffix.
func goMemLimit(s string) (int64, error) {
	for i, unit := range []string{"TiB", "GiB", "MiB", "KiB", "B"} {
		if n, ok := strings.CutSuffix(s, unit); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			return v << (10 * (4 - i)), err
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// TestDeploymentShape: replicas, spreading, probes on regiond's endpoints, resources and a locked
// down security context.
func TestDeploymentShape(t *testing.T) {
	m := load(t)
	d := m.deployment
	pod := d.Spec.Template.Spec
	c := m.container(t)

	if r := deref(d.Spec.Replicas); r < 2 {
		t.Errorf("replicas %d: want at least 2", r)
	}
	if !subset(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) || len(d.Spec.Selector.MatchLabels) == 0 {
		t.Error("the Deployment's selector does not match its pods")
	}
	spread := false
	for _, ts := range pod.TopologySpreadConstraints {
		spread = spread || ts.TopologyKey == "kubernetes.io/hostname" && ts.LabelSelector != nil && subset(ts.LabelSelector.MatchLabels, d.Spec.Template.Labels)
	}
	if a := pod.Affinity; a != nil && a.PodAntiAffinity != nil {
		spread = true
	}
	if !spread {
		t.Error("replicas are not spread across nodes (topologySpreadConstraints on kubernetes.io/hostname, or pod anti-affinity)")
	}

	// The container listens where regiond listens by default, and where the image says.
	port := containerPort(t, c, intstr.FromString("http"))
	_, addrPort, _ := strings.Cut(effectiveServe(t, nil).Addr, ":")
	if strconv.Itoa(int(port)) != addrPort {
		t.Errorf("container port %d, but regiond listens on %s", port, addrPort)
	}
	if exposed := dockerfile(t).final["EXPOSE"]; len(exposed) != 1 || exposed[0] != addrPort {
		t.Errorf("the Dockerfile exposes %v, regiond listens on %s", exposed, addrPort)
	}

	// Probes: liveness and startup on /healthz, readiness on /readyz, both endpoints of the spec.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"livenessProbe", c.LivenessProbe, "/healthz"}, {"readinessProbe", c.ReadinessProbe, "/readyz"}, {"startupProbe", c.StartupProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s path %q, want %q", p.name, p.probe.HTTPGet.Path, p.path)
		}
		if got := containerPort(t, c, p.probe.HTTPGet.Port); got != port {
			t.Errorf("%s probes port %d, not the container's %d", p.name, got, port)
		}
		if !bytes.Contains(regiond.OpenAPI, []byte("\n  "+p.path+":\n")) {
			t.Errorf("%s: %s is not an endpoint of openapi.yaml", p.name, p.path)
		}
		if p.probe.PeriodSeconds == 0 || p.probe.TimeoutSeconds == 0 || p.probe.FailureThreshold == 0 {
			t.Errorf("%s: set periodSeconds, timeoutSeconds and failureThreshold explicitly", p.name)
		}
	}
	if lp := c.LivenessProbe; lp != nil && lp.PeriodSeconds*lp.FailureThreshold < 20 {
		t.Errorf("livenessProbe restarts after %ds of silence: too eager", lp.PeriodSeconds*lp.FailureThreshold)
	}

	// Resources: requests and limits, requests within limits.
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[name]
		lim, okLim := c.Resources.Limits[name]
		if !okReq || !okLim || req.Cmp(lim) > 0 || req.IsZero() {
			t.Errorf("%s: want a request no larger than the limit, got %v / %v", name, req.String(), lim.String())
		}
	}
	if lim := c.Resources.Limits[corev1.ResourceMemory]; lim.Cmp(resource.MustParse("128Mi")) < 0 {
		t.Errorf("memory limit %v: the list cache alone may take 64 MiB", lim.String())
	}

	// Security: non-root (the image's user), read-only root, no privilege, no capability,
	// the runtime's seccomp profile.
	psc, csc := pod.SecurityContext, c.SecurityContext
	if psc == nil || csc == nil {
		t.Fatal("want both a pod and a container securityContext")
	}
	if !deref(psc.RunAsNonRoot) && !deref(csc.RunAsNonRoot) {
		t.Error("runAsNonRoot is not set")
	}
	uid := dockerfile(t).uid
	for _, u := range []*int64{psc.RunAsUser, csc.RunAsUser} {
		if u != nil && (*u == 0 || *u != uid) {
			t.Errorf("runAsUser %d: want the image's non-root user %d", *u, uid)
		}
	}
	if !deref(csc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not set")
	}
	if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation || deref(csc.Privileged) {
		t.Error("allowPrivilegeEscalation must be false (and the container not privileged)")
	}
	if csc.Capabilities == nil || !slices.Contains(csc.Capabilities.Drop, "ALL") || len(csc.Capabilities.Add) > 0 {
		t.Error("capabilities must drop ALL and add none")
	}
	seccomp := csc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("seccompProfile must be RuntimeDefault")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken must be false: regiond never calls the Kubernetes API")
	}
	tmp := slices.ContainsFunc(c.VolumeMounts, func(v corev1.VolumeMount) bool { return v.MountPath == "/tmp" })
	if !tmp {
		t.Error("the root filesystem is read-only: mount a writable /tmp")
	}
}

// containerPort resolves a port (by name or number) to one the container declares.
func containerPort(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	for _, cp := range c.Ports {
		if p.Type == intstr.String && cp.Name == p.StrVal || p.Type == intstr.Int && cp.ContainerPort == p.IntVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("port %s is not a port of the container", p.String())
	return 0
}

func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestServiceAndDisruptionBudget: the Service reaches the pods' HTTP port on 80; the budget
// lets drains proceed one replica at a time, whatever the scale.
func TestServiceAndDisruptionBudget(t *testing.T) {
	m := load(t)
	labels := m.deployment.Spec.Template.Labels
	s := m.service.Spec
	if s.Type != "" && s.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("Service type %s, want ClusterIP", s.Type)
	}
	if len(s.Selector) == 0 || !subset(s.Selector, labels) {
		t.Error("the Service's selector does not match the pods")
	}
	if len(s.Ports) != 1 || s.Ports[0].Port != 80 {
		t.Fatalf("want one Service port, 80: %+v", s.Ports)
	}
	if got := containerPort(t, m.container(t), s.Ports[0].TargetPort); got != 8080 {
		t.Errorf("the Service targets container port %d, want 8080", got)
	}

	p := m.pdb.Spec
	if p.Selector == nil || len(p.Selector.MatchLabels) == 0 || !subset(p.Selector.MatchLabels, labels) {
		t.Error("the PodDisruptionBudget's selector does not match the pods")
	}
	// A budget must let a drain proceed at any scale the Deployment may be given, from 2 replicas
	// up: minAvailable 2 blocked every drain at 2 replicas.
	if p.MinAvailable != nil {
		t.Errorf("minAvailable %v: use maxUnavailable, which holds at every scale", p.MinAvailable)
	}
	if p.MaxUnavailable == nil || p.MaxUnavailable.Type != intstr.Int || p.MaxUnavailable.IntVal != 1 {
		t.Fatalf("maxUnavailable %v, want 1", p.MaxUnavailable)
	}
	for replicas := int32(2); replicas <= 20; replicas++ {
		if allowed := min(p.MaxUnavailable.IntVal, replicas); allowed < 1 || replicas-allowed < 1 {
			t.Errorf("%d replicas: the budget allows %d disruptions", replicas, allowed)
		}
	}
}

// TestConnectionBudget: every pod a rollout can run at once, each with its whole pool open, fits
// in MariaDB's default max_connections with room left for other clients.
func TestConnectionBudget(t *testing.T) {
	const maxConnections, reserved = 151, 20 // MariaDB's default; migrate, a shell, a console
	m := load(t)
	env := map[string]string{}
	for _, e := range m.container(t).Env {
		env[e.Name] = e.Value
	}
	conns := effectiveServe(t, env).DBMaxOpenConns
	pods := deref(m.deployment.Spec.Replicas)
	if ru := m.deployment.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
		pods += ru.MaxSurge.IntVal
	}
	if need := int(pods) * conns; need > maxConnections-reserved {
		t.Errorf("%d pods x %d connections = %d: more than max_connections (%d) less %d reserved", pods, conns, need, maxConnections, reserved)
	}
}

// TestSecretExample: the example shows every key the Deployment reads, and its placeholders are
// values regiond refuses, so that applying it by mistake cannot start a server with them.
func TestSecretExample(t *testing.T) {
	m := load(t)
	s := m.secretExample
	if !strings.Contains(readFile(t, filepath.Join(manifest, "secret.example.yaml")), "EXAMPLE ONLY") {
		t.Error("secret.example.yaml must say it is an example")
	}
	for _, key := range []string{"database", "admin-token", "secret-key"} {
		if !strings.Contains(s.StringData[key], "CHANGE-ME") {
			t.Errorf("%s: want a CHANGE-ME placeholder, got %q", key, s.StringData[key])
		}
	}
	if len(s.StringData["admin-token"]) >= 32 {
		t.Error("the admin-token placeholder is one regiond would accept (32 characters or more)")
	}
	if _, err := secrets.Parse(s.StringData["secret-key"]); err == nil {
		t.Error("the secret-key placeholder is one regiond would accept")
	}
	if len(s.Data) > 0 {
		t.Error("the example carries data: values")
	}
}

// parsedDockerfile is the little of a Dockerfile this test reads.
type parsedDockerfile struct {
	args   map[string]string   // global ARG defaults
	stages []string            // FROM lines, in order
	build  []string            // RUN lines of the first stage
	final  map[string][]string // instructions of the last stage: name -> arguments
	uid    int64               // the final stage's USER id
}

func dockerfile(t *testing.T) parsedDockerfile {
	t.Helper()
	text := strings.ReplaceAll(readFile(t, filepath.Join(root, "Dockerfile")), "\\\n", " ")
	d := parsedDockerfile{args: map[string]string{}}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		switch {
		case instr == "FROM":
			d.stages = append(d.stages, rest)
			d.final = map[string][]string{}
		case instr == "ARG" && len(d.stages) == 0:
			name, def, _ := strings.Cut(rest, "=")
			d.args[name] = def
		case instr == "RUN" && len(d.stages) == 1:
			d.build = append(d.build, rest)
		case len(d.stages) > 0:
			d.final[instr] = append(d.final[instr], rest)
		}
	}
	if users := d.final["USER"]; len(users) == 1 {
		id, _, _ := strings.Cut(users[0], ":")
		d.uid, _ = strconv.ParseInt(id, 10, 64)
	}
	return d
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDockerfile: built with go.mod's Go by the Makefile's recipe, run as a non-root user on a
// static base.
func TestDockerfile(t *testing.T) {
	d := dockerfile(t)
	if len(d.stages) < 2 {
		t.Fatalf("want a multi-stage build, got stages %v", d.stages)
	}
	goMod := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(readFile(t, filepath.Join(root, "go.mod")))
	if goMod == nil {
		t.Fatal("go.mod has no go line")
	}
	image, _, _ := strings.Cut(d.stages[0], " ")
	image = os.Expand(image, func(name string) string { return d.args[name] })
	if want := "golang:" + goMod[1]; image != want && !strings.HasPrefix(image, want+"-") {
		t.Errorf("the build stage is %s; go.mod says go %s (want %s)", image, goMod[1], want)
	}
	if !slices.ContainsFunc(d.build, func(r string) bool { return strings.Contains(r, "make build VERSION=") }) {
		t.Error("the build stage must run `make build VERSION=...`: the recipe CI checks with make build-check")
	}
	makefile := readFile(t, filepath.Join(root, "Makefile"))
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X github.com/regiond/regiond/internal/app.Version=$(VERSION)"} {
		if !strings.Contains(makefile, want) {
			t.Errorf("the Makefile's build does not use %s", want)
		}
	}

	final := d.stages[len(d.stages)-1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("the final stage is %s: want distroless/static (or scratch)", final)
	}
	if users := d.final["USER"]; len(users) != 1 || d.uid == 0 || users[0] != fmt.Sprintf("%d:%d", d.uid, d.uid) {
		t.Errorf("the final stage must run as a numeric non-root USER uid:gid, got %v", users)
	}
	want := map[string]string{"ENTRYPOINT": `["/regiond"]`, "CMD": `["serve"]`}
	for instr, v := range want {
		if got := d.final[instr]; len(got) != 1 || got[0] != v {
			t.Errorf("%s %v, want %s", instr, got, v)
		}
	}
	if len(d.final["HEALTHCHECK"]) > 0 {
		t.Error("HEALTHCHECK cannot run in a distroless image (no shell, no client): probes do it")
	}
	ignore := readFile(t, filepath.Join(root, ".dockerignore"))
	for _, want := range []string{".git", "bin/", "data/"} {
		if !slices.Contains(strings.Fields(ignore), want) {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
}
