#!/usr/bin/env python3
"""Derives the live namespaces of the upstream-diff tests from the upstream
(upstream-v7.2.1943.yaml, a copy of /work/shared/upstream/rendered/
kustomize-v7.2.1943-base.yaml): every default the API server and the
controllers add, and nothing else, into testdata/kube/drift-defaults; the
same plus the planted customer changes into testdata/kube/drift-planted.
Run from the repository root: python3 testdata/drift/derive.py"""
import copy, json, os, yaml

HERE = os.path.dirname(os.path.abspath(__file__))
KUBE = os.path.join(HERE, "..", "kube")
docs = [d for d in yaml.safe_load_all(open(os.path.join(HERE, "upstream-v7.2.1943.yaml"))) if d]

def probe(p):
    if p is None:
        return
    for k, v in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)):
        p.setdefault(k, v)
    if "httpGet" in p:
        p["httpGet"].setdefault("scheme", "HTTP")

def pod_spec(s):
    s.setdefault("dnsPolicy", "ClusterFirst")
    s.setdefault("restartPolicy", "Always")
    s.setdefault("schedulerName", "default-scheduler")
    s.setdefault("terminationGracePeriodSeconds", 30)
    s.setdefault("securityContext", {})
    for v in (s.get("volumes") or []):
        if not any(k for k in v if k != "name"):
            v["emptyDir"] = {}
        for src in ("configMap", "secret"):
            if src in v:
                v[src].setdefault("defaultMode", 420)
    for c in (s.get("containers") or []) + (s.get("initContainers") or []):
        c.setdefault("imagePullPolicy", "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        for p in (c.get("ports") or []):
            p.setdefault("protocol", "TCP")
        for k in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe(c.get(k))
        for e in (c.get("env") or []):
            fr = e.get("valueFrom", {}).get("fieldRef")
            if fr is not None:
                fr.setdefault("apiVersion", "v1")

def defaults(o, n):
    applied = json.dumps(o, sort_keys=True, separators=(",", ":"))
    o = copy.deepcopy(o)
    m = o["metadata"]
    m.update({"namespace": "sourcegraph", "uid": "0000-%04d" % n, "resourceVersion": str(1000 + n),
              "creationTimestamp": "2026-11-01T10:00:00Z"})
    if not m.get("annotations"):
        m["annotations"] = {}
    m["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = applied
    k, spec = o["kind"], o.get("spec", {})
    if k in ("Deployment", "StatefulSet", "DaemonSet"):
        m["generation"] = 2
        spec.setdefault("revisionHistoryLimit", 10)
        spec["template"].setdefault("metadata", {})["creationTimestamp"] = None
        pod_spec(spec["template"]["spec"])
        o["status"] = {"observedGeneration": 2, "replicas": spec.get("replicas", 1)}
    if k == "Deployment":
        m["annotations"]["deployment.kubernetes.io/revision"] = "3"
        spec.setdefault("progressDeadlineSeconds", 600)
        st = spec.setdefault("strategy", {})
        st.setdefault("type", "RollingUpdate")
        if st["type"] == "RollingUpdate":
            st.setdefault("rollingUpdate", {}).setdefault("maxSurge", "25%")
            st["rollingUpdate"].setdefault("maxUnavailable", "25%")
    if k == "StatefulSet":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        us = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if us.get("type") == "RollingUpdate":
            us.setdefault("rollingUpdate", {"partition": 0})
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
        for t in spec.get("volumeClaimTemplates", []):
            t.setdefault("apiVersion", "v1")
            t.setdefault("kind", "PersistentVolumeClaim")
            t["spec"].setdefault("volumeMode", "Filesystem")
            t["status"] = {"phase": "Pending"}
    if k == "DaemonSet":
        us = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if us.get("type") == "RollingUpdate":
            us.setdefault("rollingUpdate", {"maxSurge": 0, "maxUnavailable": 1})
    if k == "Service":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        ip = spec.setdefault("clusterIP", "10.96.0.%d" % n)
        spec["clusterIPs"] = [ip]
        spec["ipFamilies"] = ["IPv4"]
        spec["ipFamilyPolicy"] = "SingleStack"
        for p in spec.get("ports") or []:
            p.setdefault("protocol", "TCP")
            p.setdefault("targetPort", p["port"])
        o["status"] = {"loadBalancer": {}}
    if k == "PersistentVolumeClaim":
        spec.setdefault("volumeMode", "Filesystem")
        spec.setdefault("storageClassName", "standard")
        spec["volumeName"] = "pvc-%04d" % n
        m["annotations"]["pv.kubernetes.io/bind-completed"] = "yes"
        m["finalizers"] = ["kubernetes.io/pvc-protection"]
        o["status"] = {"phase": "Bound", "capacity": spec["resources"]["requests"]}
    if k == "Ingress":
        o["status"] = {"loadBalancer": {}}
    return o

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "sourcegraph-frontend-5f7c9d8b6-abcde", "namespace": "sourcegraph",
                    "labels": {"deploy": "sourcegraph", "app": "sourcegraph-frontend"},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "sourcegraph-frontend-5f7c9d8b6", "uid": "rs-1", "controller": True}]},
       "spec": {"containers": [{"name": "frontend", "image": "index.docker.io/sourcegraph/frontend:7.2.1943"}]},
       "status": {"phase": "Running", "containerStatuses": [{"name": "frontend", "image": "sourcegraph/frontend:7.2.1943", "imageID": "", "ready": True, "restartCount": 0, "started": True, "state": {"running": {"startedAt": "2026-11-01T10:00:00Z"}}}]}}

def write(name, items):
    d = os.path.join(KUBE, name, "objects")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "live.json"), "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items + [POD]}, f, indent=1, sort_keys=True)
        f.write("\n")

write("drift-defaults", [defaults(o, i) for i, o in enumerate(docs)])

def find(objs, kind, name):
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)

def container(o, name):
    return next(c for c in o["spec"]["template"]["spec"]["containers"] if c["name"] == name)

# The customer's manifests: upstream with their changes, applied with kubectl.
custom = copy.deepcopy(docs)
container(find(custom, "Deployment", "sourcegraph-frontend"), "frontend")["resources"]["limits"]["memory"] = "2G"
find(custom, "Deployment", "worker")["spec"]["replicas"] = 3
container(find(custom, "StatefulSet", "searcher"), "searcher")["env"].append({"name": "SEARCHER_DEBUG", "value": "true"})
e = container(find(custom, "StatefulSet", "gitserver"), "gitserver")["env"]
next(x for x in e if x["name"] == "OTEL_EXPORTER_OTLP_ENDPOINT")["value"] = "http://otel.example.internal:4317"
e = container(find(custom, "Deployment", "worker"), "worker")["env"]
e[:] = [x for x in e if x["name"] != "NUM_WORKERS" and x["name"] != "POD_NAME"]
container(find(custom, "Deployment", "syntect-server"), "syntect-server")["image"] = "index.docker.io/sourcegraph/syntect-server:6.12.5040"
find(custom, "PersistentVolumeClaim", "blobstore")["spec"]["resources"]["requests"]["storage"] = "50Gi"
find(custom, "StatefulSet", "gitserver")["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "500Gi"
custom.remove(find(custom, "Deployment", "syntactic-code-intel"))
extra = copy.deepcopy(find(custom, "Deployment", "blobstore"))
extra["metadata"]["name"] = "custom-proxy"
custom.append(extra)
live = [defaults(o, i) for i, o in enumerate(custom)]
# Edited by hand after the apply: visible only against last-applied.
prom = find(live, "Deployment", "prometheus")
applied = json.loads(prom["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
container(applied, "prometheus")["env"].append({"name": "PROMETHEUS_DEBUG", "value": "true"})
prom["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(applied, sort_keys=True, separators=(",", ":"))
write("drift-planted", live)

# Helm: the objects of the release's rendered manifest (the kinds sg-debug
# lists), as the API server keeps them after `helm install`, then edited by
# hand after the release.
release = json.load(open(os.path.join(HERE, "helm-v7.2.1943-default.release.json")))
KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Service", "ConfigMap", "PersistentVolumeClaim", "Secret", "Ingress"}
rendered = [d for d in yaml.safe_load_all(release["manifest"]) if d and d["kind"] in KINDS]
helm_live = []
for i, o in enumerate(rendered):
    o = defaults(o, i)
    del o["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    o["metadata"]["annotations"]["meta.helm.sh/release-name"] = "sourcegraph"
    o["metadata"]["annotations"]["meta.helm.sh/release-namespace"] = "sourcegraph"
    helm_live.append(o)
find(helm_live, "Deployment", "sourcegraph-frontend")["spec"]["replicas"] = 4
container(find(helm_live, "Deployment", "worker"), "worker").setdefault("env", []).append({"name": "WORKER_DEBUG", "value": "1"})
write("drift-helm", helm_live)

# Compose: five services of upstream's docker-compose.yaml v7.2.1943 (the
# ones a 2-core test engine can run with their own cpus limits), otherwise
# as upstream has them. The live deployment is made from it by the test.
SRC = "/work/shared/upstream/deploy-sourcegraph-docker-v7.2.1943/docker-compose/docker-compose.yaml"
if os.path.exists(SRC):
    up = yaml.safe_load(open(SRC))
    keep = ["searcher-0", "blobstore", "redis-cache", "redis-store", "precise-code-intel-worker"]
    sub = {"version": up["version"], "services": {k: up["services"][k] for k in keep}}
    vols = {v.split(":")[0] for s in sub["services"].values() for v in (s.get("volumes") or [])}
    sub["volumes"] = {k: v for k, v in up["volumes"].items() if k in vols}
    os.makedirs(os.path.join(HERE, "compose"), exist_ok=True)
    with open(os.path.join(HERE, "compose", "docker-compose.yaml"), "w") as f:
        f.write("# Derived by testdata/drift/derive.py: five services of deploy-sourcegraph-docker\n# v7.2.1943 docker-compose/docker-compose.yaml, unmodified.\n")
        yaml.safe_dump(sub, f, sort_keys=False)
