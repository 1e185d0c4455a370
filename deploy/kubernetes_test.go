// Package deploy_test checks the deployment files offline: the Kubernetes
// manifests are decoded strictly into the Kubernetes API types (a field
// Kubernetes does not know fails), and checked for what Protect needs of
// them.
package deploy_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/protectnow/protect/config"
)

// manifest is one decoded document.
type manifest struct {
	file string
	kind string
	name string
	obj  any
}

var kinds = map[string]func() any{
	"Deployment":              func() any { return &appsv1.Deployment{} },
	"Job":                     func() any { return &batchv1.Job{} },
	"Service":                 func() any { return &corev1.Service{} },
	"ServiceAccount":          func() any { return &corev1.ServiceAccount{} },
	"ConfigMap":               func() any { return &corev1.ConfigMap{} },
	"Namespace":               func() any { return &corev1.Namespace{} },
	"PodDisruptionBudget":     func() any { return &policyv1.PodDisruptionBudget{} },
	"HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
}

// kustomization is the part of kustomize's file the test follows.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Labels     []any    `json:"labels,omitempty"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images,omitempty"`
	ConfigMapGenerator []struct {
		Name     string   `json:"name"`
		Behavior string   `json:"behavior,omitempty"`
		Literals []string `json:"literals,omitempty"`
		Files    []string `json:"files,omitempty"`
	} `json:"configMapGenerator,omitempty"`
	Patches []struct {
		Path   string `json:"path,omitempty"`
		Patch  string `json:"patch,omitempty"`
		Target *struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"target,omitempty"`
	} `json:"patches,omitempty"`
}

// load follows a kustomization from dir: every resource, patch and
// generated file must exist, and every manifest must decode strictly.
func load(t *testing.T, dir string) ([]manifest, kustomization) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", dir, err)
	}
	if k.Kind != "Kustomization" {
		t.Fatalf("%s/kustomization.yaml: kind %q", dir, k.Kind)
	}
	var out []manifest
	for _, r := range k.Resources {
		p := filepath.Join(dir, r)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: resource %s: %v", dir, r, err)
		}
		if st.IsDir() {
			sub, _ := load(t, p)
			out = append(out, sub...)
			continue
		}
		out = append(out, decodeFile(t, p)...)
	}
	for _, p := range k.Patches {
		if p.Path != "" {
			decodeFile(t, filepath.Join(dir, p.Path))
		}
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.Files {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Fatalf("%s: configMapGenerator %s: %v", dir, g.Name, err)
			}
		}
	}
	return out, k
}

func decodeFile(t *testing.T, path string) []manifest {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, path, b)
}

// decode decodes each document of b (from path) strictly into its
// Kubernetes type.
func decode(t *testing.T, path string, b []byte) []manifest {
	t.Helper()
	var out []manifest
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var head struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("%s document %d: %v", path, i, err)
		}
		mk, ok := kinds[head.Kind]
		if !ok {
			t.Fatalf("%s document %d: unexpected kind %q", path, i, head.Kind)
		}
		obj := mk()
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s document %d (%s): %v", path, i, head.Kind, err)
		}
		out = append(out, manifest{file: filepath.Base(path), kind: head.Kind, name: head.Metadata.Name, obj: obj})
	}
	return out
}

func find[T any](ms []manifest, kind, name string) *T {
	for _, m := range ms {
		if m.kind == kind && m.name == name {
			return m.obj.(*T)
		}
	}
	return nil
}

// TestKubernetesManifests checks the base and the example overlay.
func TestKubernetesManifests(t *testing.T) {
	base, _ := load(t, "kubernetes/base")
	overlay, k := load(t, "kubernetes/overlays/example")
	if len(overlay) <= len(base) || k.Namespace == "" || len(k.Images) == 0 {
		t.Fatalf("overlay should add to the base, set a namespace and an image")
	}
	cm := find[corev1.ConfigMap](base, "ConfigMap", "protect-config")
	if cm == nil {
		t.Fatal("no protect-config ConfigMap")
	}
	for key := range cm.Data {
		if !config.Known(key) {
			t.Errorf("ConfigMap sets %s, which Protect does not read", key)
		}
	}
	for _, g := range k.ConfigMapGenerator {
		for _, lit := range g.Literals {
			if name, _, _ := strings.Cut(lit, "="); g.Name == "protect-config" && !config.Known(name) {
				t.Errorf("overlay sets %s, which Protect does not read", name)
			}
		}
	}
	if cm.Data["PROTECT_MIGRATE"] != "wait" {
		t.Error("serve and worker must wait for the migration Job (PROTECT_MIGRATE=wait)")
	}

	serve := find[appsv1.Deployment](base, "Deployment", "protect-serve")
	worker := find[appsv1.Deployment](base, "Deployment", "protect-worker")
	job := find[batchv1.Job](base, "Job", "protect-migrate")
	if serve == nil || worker == nil || job == nil {
		t.Fatal("want Deployments protect-serve and protect-worker and Job protect-migrate")
	}
	pods := map[string]corev1.PodSpec{"serve": serve.Spec.Template.Spec, "worker": worker.Spec.Template.Spec, "migrate": job.Spec.Template.Spec}
	wantArgs := map[string]string{"serve": "serve", "worker": "worker", "migrate": "migrate"}
	for name, pod := range pods {
		t.Run(name, func(t *testing.T) { checkPod(t, name, pod, wantArgs[name]) })
	}
	for _, d := range []*appsv1.Deployment{serve, worker} {
		c := d.Spec.Template.Spec.Containers[0]
		if c.LivenessProbe == nil || c.ReadinessProbe == nil || c.StartupProbe == nil {
			t.Errorf("%s: liveness, readiness and startup probes wanted", d.Name)
		}
		if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("%s: readiness should probe /readyz", d.Name)
		}
		if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
			t.Errorf("%s: selector does not match its pods", d.Name)
		}
		pdbFound := false
		for _, m := range base {
			if p, ok := m.obj.(*policyv1.PodDisruptionBudget); ok && selects(p.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
				pdbFound = true
			}
		}
		if !pdbFound {
			t.Errorf("%s: no PodDisruptionBudget covers it", d.Name)
		}
	}
	// The root filesystem is read-only: the inbound spool needs a volume
	// mounted where PROTECT_SPOOL_DIR points.
	spoolDir := ""
	for _, e := range serve.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "PROTECT_SPOOL_DIR" {
			spoolDir = e.Value
		}
	}
	mounted := false
	for _, m := range serve.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounted = mounted || (spoolDir != "" && m.MountPath == spoolDir && !m.ReadOnly)
	}
	if !mounted {
		t.Errorf("serve: PROTECT_SPOOL_DIR (%q) must be a writable volume mount", spoolDir)
	}
	if c := serve.Spec.Template.Spec.Containers[0]; c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Error("serve: a preStop pause is wanted so load balancers stop sending before the drain")
	}
	if g := worker.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g <= 25 {
		t.Error("worker: terminationGracePeriodSeconds must exceed PROTECT_SHUTDOWN_GRACE (25 s)")
	}
	hpa := find[autoscalingv2.HorizontalPodAutoscaler](base, "HorizontalPodAutoscaler", "protect-worker")
	if hpa == nil || hpa.Spec.ScaleTargetRef.Name != worker.Name || hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 {
		t.Error("want an HPA on protect-worker with at least 2 replicas")
	}
}

// checkPod: non-root, read-only root, no privilege escalation, resources,
// settings Protect knows, secrets read from the mounted secret files.
func checkPod(t *testing.T, name string, pod corev1.PodSpec, args string) {
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod must run as non-root")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("no service account token is needed")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("one container wanted, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !slices.Equal(c.Args, []string{args}) {
		t.Errorf("args %v, want [%s]", c.Args, args)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Error("container must have a read-only root filesystem, no privilege escalation and drop ALL capabilities")
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("CPU and memory requests and a memory limit are wanted")
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	for n := range mounts {
		if _, ok := volumes[n]; !ok {
			t.Errorf("mount %s has no volume", n)
		}
	}
	for _, e := range c.Env {
		if !config.Known(e.Name) {
			t.Errorf("env %s is not a variable Protect reads", e.Name)
		}
		if strings.HasSuffix(e.Name, "_FILE") && e.Name != "PROTECT_ROUTING_FILE" && !strings.HasPrefix(e.Value, mounts["secrets"]+"/") {
			t.Errorf("env %s=%s is not under the secrets mount %s", e.Name, e.Value, mounts["secrets"])
		}
		if e.Name == "TWILIO_AUTH_TOKEN" || e.Name == "PROTECT_DATABASE_URL" || e.Name == "PROTECT_SESSION_KEY" {
			t.Errorf("secret %s given as a plain variable: use %s_FILE", e.Name, e.Name)
		}
	}
	if v, ok := volumes["secrets"]; !ok || v.Secret == nil {
		t.Error("secrets must come from a Secret volume")
	}
	if name != "migrate" {
		for _, e := range c.Env {
			if e.Name == "PROTECT_ROUTING_FILE" && !strings.HasPrefix(e.Value, mounts["routing"]+"/") {
				t.Errorf("routing file %s is not under the routing mount", e.Value)
			}
		}
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
