{{/* Names, labels and the paths the pod mounts things at. */}}

{{- define "hookbridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name; the release name alone when it already contains the chart name. */}}
{{- define "hookbridge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hookbridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hookbridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hookbridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hookbridge.labels" -}}
helm.sh/chart: {{ include "hookbridge.chart" . }}
{{ include "hookbridge.selectorLabels" . }}
app.kubernetes.io/version: {{ include "hookbridge.versionLabel" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hookbridge
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The image tag as a label value (at most 63 characters). */}}
{{- define "hookbridge.versionLabel" -}}
{{- .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | trimSuffix "." | quote }}
{{- end }}

{{- define "hookbridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "hookbridge.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "hookbridge.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "hookbridge.credentialsSecretName" -}}
{{- .Values.credentialsSecret.existingSecret | default (printf "%s-credentials" (include "hookbridge.fullname" .)) }}
{{- end }}

{{/* Where the pod finds its files. hookbridge's image runs `serve --config /etc/hookbridge/hookbridge.toml`. */}}
{{- define "hookbridge.configDir" -}}/etc/hookbridge{{- end }}
{{- define "hookbridge.credentialsDir" -}}/var/run/secrets/hookbridge/credentials{{- end }}
{{- define "hookbridge.kafkaSaslDir" -}}/var/run/secrets/hookbridge/kafka-sasl{{- end }}
{{- define "hookbridge.kafkaCaDir" -}}/var/run/secrets/hookbridge/kafka-ca{{- end }}
{{- define "hookbridge.kafkaClientDir" -}}/var/run/secrets/hookbridge/kafka-client{{- end }}
{{- define "hookbridge.systemCaBundle" -}}/etc/ssl/certs/ca-certificates.crt{{- end }}

{{/* The 13 EverBright event slugs (docs/reference.md#events). */}}
{{- define "hookbridge.eventSlugs" -}}
contract-recipient-status-change contract-status-change change-order-status-change homeowners-signed-contract milestone-comment-created milestone-status-change task-comment-created qualification-update site-archived stage-transition proposal-action invoice-status-change workflow-status-change
{{- end }}

{{/* "auto" | true | false → "true" when the monitoring.coreos.com object should be rendered. */}}
{{- define "hookbridge.monitoringEnabled" -}}
{{- $mode := .mode | toString }}
{{- if eq $mode "true" }}true
{{- else if and (eq $mode "auto") (.root.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") }}true
{{- end }}
{{- end }}

{{/*
A Go-style duration as hookbridge writes them ("20s", "1m30s", "500ms") → whole seconds, rounded up.
*/}}
{{- define "hookbridge.durationSeconds" -}}
{{- $ms := 0 }}
{{- range regexFindAll "[0-9]+(ms|s|m|h)" . -1 }}
{{- $n := regexFind "^[0-9]+" . | int }}
{{- $unit := trimPrefix (toString $n) . }}
{{- if eq $unit "ms" }}{{ $ms = add $ms $n }}
{{- else if eq $unit "s" }}{{ $ms = add $ms (mul $n 1000) }}
{{- else if eq $unit "m" }}{{ $ms = add $ms (mul $n 60000) }}
{{- else if eq $unit "h" }}{{ $ms = add $ms (mul $n 3600000) }}
{{- end }}
{{- end }}
{{- div (add $ms 999) 1000 }}
{{- end }}

{{/* Fails the render when the pod could be killed before hookbridge finished draining. */}}
{{- define "hookbridge.checkGracePeriod" -}}
{{- $grace := include "hookbridge.durationSeconds" (.Values.config.server.shutdown_grace | default "20s") | int }}
{{- $needed := add (int .Values.preStopSleepSeconds) $grace }}
{{- if le (int .Values.terminationGracePeriodSeconds) $needed }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + config.server.shutdown_grace (%d s)" (int .Values.terminationGracePeriodSeconds) $needed) }}
{{- end }}
{{- end }}
