package deploy_test

import (
	"net"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestOverlayRenders builds the example overlay as `kubectl apply -k`
// would (kustomize, offline) and checks what comes out: every object
// decodes strictly, sits in the overlay's namespace and uses its image;
// the overlay's settings are merged into the base's; the sizes patch
// lands; the migration Job is named for the release (a Job's template
// cannot change); and the probes reach the ports Protect listens on.
func TestOverlayRenders(t *testing.T) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), "kubernetes/overlays/example")
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	ms := decode(t, "kustomize build kubernetes/overlays/example", out)
	_, kust := load(t, "kubernetes/overlays/example")
	tag := kust.Images[0].NewTag

	var cm *corev1.ConfigMap
	var job *batchv1.Job
	deployments := map[string]*appsv1.Deployment{}
	for _, m := range ms {
		switch o := m.obj.(type) {
		case *corev1.Namespace:
			continue
		case *corev1.ConfigMap:
			if o.Name == "protect-config" || strings.HasPrefix(o.Name, "protect-config-") {
				cm = o
			}
		case *batchv1.Job:
			job = o
		case *appsv1.Deployment:
			deployments[o.Name] = o
		}
		if ns := namespaceOf(m.obj); ns != kust.Namespace {
			t.Errorf("%s %s: namespace %q, want %q", m.kind, m.name, ns, kust.Namespace)
		}
	}
	if cm == nil || cm.Data["PROTECT_PUBLIC_URL"] == "" || cm.Data["PROTECT_MIGRATE"] != "wait" {
		t.Fatalf("the overlay's settings are not merged into the base's ConfigMap: %v", cm)
	}
	if job == nil || job.Name != "protect-migrate-"+tag {
		t.Errorf("migration Job %v, want it named protect-migrate-%s (the image tag)", job, tag)
	}
	worker, serve := deployments["protect-worker"], deployments["protect-serve"]
	if worker == nil || serve == nil {
		t.Fatal("want protect-serve and protect-worker")
	}
	// The capacity guide's sizes (deploy/README.md): 3 workers, and 1 CPU
	// and 256 MiB for each process.
	if worker.Spec.Replicas == nil || *worker.Spec.Replicas != 3 {
		t.Error("the overlay's sizes patch did not set 3 workers")
	}
	for _, d := range []*appsv1.Deployment{worker, serve} {
		r := d.Spec.Template.Spec.Containers[0].Resources.Requests
		if r.Cpu().String() != "1" || r.Memory().String() != "256Mi" {
			t.Errorf("%s: requests %s CPU and %s, want the guide's 1 and 256Mi", d.Name, r.Cpu(), r.Memory())
		}
	}
	pods := map[string]corev1.PodSpec{"worker": worker.Spec.Template.Spec, "serve": serve.Spec.Template.Spec, "migrate": job.Spec.Template.Spec}
	for name, pod := range pods {
		for _, c := range pod.Containers {
			if !strings.HasSuffix(c.Image, ":"+tag) {
				t.Errorf("%s: image %q, want the overlay's tag %s", name, c.Image, tag)
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef != nil && ef.ConfigMapRef.Name != cm.Name {
					t.Errorf("%s: reads ConfigMap %s, not the generated %s", name, ef.ConfigMapRef.Name, cm.Name)
				}
			}
		}
	}
	// Probes reach the listener each process has: the worker's side
	// listener, serve's public one.
	for name, addr := range map[string]string{"protect-worker": cm.Data["PROTECT_WORKER_ADDR"], "protect-serve": cm.Data["PROTECT_HTTP_ADDR"]} {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%s: address %q: %v", name, addr, err)
		}
		c := deployments[name].Spec.Template.Spec.Containers[0]
		for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
			if p == nil || p.HTTPGet == nil || p.HTTPGet.Port.String() != port && !namedPort(c, p.HTTPGet.Port.String(), port) {
				t.Errorf("%s: a probe does not reach port %s", name, port)
			}
		}
	}
}

// namespaceOf returns an object's namespace.
func namespaceOf(obj any) string {
	if o, ok := obj.(interface{ GetNamespace() string }); ok {
		return o.GetNamespace()
	}
	return ""
}

// namedPort reports whether the container port called name is port.
func namedPort(c corev1.Container, name, port string) bool {
	for _, p := range c.Ports {
		if p.Name == name && port == strconv.Itoa(int(p.ContainerPort)) {
			return true
		}
	}
	return false
}
