{{/* The name of this release's runtime objects. */}}
{{- define "sdoneks.fullname" -}}
{{- printf "%s-%s" .Release.Name .Values.runtime.type | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels every object of the runtime carries. */}}
{{- define "sdoneks.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{ include "sdoneks.selectorLabels" . }}
{{- end }}

{{- define "sdoneks.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sdoneks.fullname" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
runtime: {{ .Values.runtime.type }}
{{- end }}

{{/* A container's env list from a map. */}}
{{- define "sdoneks.env" -}}
{{- range $k, $v := . }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end }}
