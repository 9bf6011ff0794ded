{{/* Full name of the release's objects. */}}
{{- define "photon-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "photon-operator.selectorLabels" -}}
app.kubernetes.io/name: photon-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "photon-operator.labels" -}}
{{ include "photon-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: photondb
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "photon-operator.serviceAccountName" -}}
{{- default (include "photon-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The rules the operator needs on namespaced objects (Role or ClusterRole). */}}
{{- define "photon-operator.namespacedRules" -}}
- apiGroups: [photondb.io]
  resources: [photonclusters, pyralognetworks]
  verbs: [get, list, watch, patch, update]
- apiGroups: [photondb.io]
  resources: [photonclusters/status, pyralognetworks/status]
  verbs: [get, patch, update]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [""]
  resources: [services, configmaps]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
{{- if eq .Values.nodeAccess "proxy" }}
- apiGroups: [""]
  resources: [pods/proxy]
  verbs: [get, create, delete]
{{- end }}
- apiGroups: ["", events.k8s.io]
  resources: [events]
  verbs: [create, patch]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, patch, update, delete]
{{- if .Values.rbac.podMonitors }}
- apiGroups: [monitoring.coreos.com]
  resources: [podmonitors]
  verbs: [get, create, patch, update, delete]
{{- end }}
{{- end -}}
