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

{{/*
Fails the render when the pod could be killed before hookbridge finished: after SIGTERM it
drains for up to shutdown_grace, then flushes the producer for up to ack_timeout. With
persistence, the spool's drain (persistence.drainTimeout) comes between the two, and the grace
period is persistence.terminationGracePeriodSeconds.
*/}}
{{- define "hookbridge.checkGracePeriod" -}}
{{- $grace := include "hookbridge.durationSeconds" (.Values.config.server.shutdown_grace | default "20s") | int }}
{{- $flush := include "hookbridge.durationSeconds" (.Values.config.kafka.ack_timeout | default "5s") | int }}
{{- $needed := add (int .Values.preStopSleepSeconds) $grace $flush }}
{{- if .Values.persistence.enabled }}
{{- $period := int .Values.persistence.terminationGracePeriodSeconds }}
{{- $drain := include "hookbridge.durationSeconds" .Values.persistence.drainTimeout | int }}
{{- if le $period (add $needed $drain) }}
{{- fail (printf "persistence.terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + config.server.shutdown_grace + persistence.drainTimeout + config.kafka.ack_timeout (the Kafka flush): %d s" $period (add $needed $drain)) }}
{{- end }}
{{- else if le (int .Values.terminationGracePeriodSeconds) $needed }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed preStopSleepSeconds + config.server.shutdown_grace + config.kafka.ack_timeout (the Kafka flush): %d s" (int .Values.terminationGracePeriodSeconds) $needed) }}
{{- end }}
{{- end }}

{{/* The pods' grace period: persistence.terminationGracePeriodSeconds in persistence mode. */}}
{{- define "hookbridge.terminationGracePeriodSeconds" -}}
{{- ternary .Values.persistence.terminationGracePeriodSeconds .Values.terminationGracePeriodSeconds .Values.persistence.enabled | int }}
{{- end }}

{{/* The workload's kind: a StatefulSet (a volume per pod) with persistence, else a Deployment. */}}
{{- define "hookbridge.workloadKind" -}}
{{- ternary "StatefulSet" "Deployment" .Values.persistence.enabled }}
{{- end }}

{{/* A Kubernetes quantity ("10Gi", "500M", "1.5Ti") → bytes, rounded down. */}}
{{- define "hookbridge.quantityBytes" -}}
{{- $q := toString . }}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$" $q) }}
{{- fail (printf "%q is not a Kubernetes quantity of bytes such as 10Gi or 500M" $q) }}
{{- end }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $q }}
{{- $units := dict "" 1.0 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18
      "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 }}
{{- mulf (float64 $number) (get $units (trimPrefix $number $q)) | floor | int64 }}
{{- end }}

{{/*
spool.max_bytes: persistence.maxBytes, or 85 % of persistence.size (room for the filesystem's
own reserve, journal and inode tables). Fails when it exceeds the volume or is below the spool's
minimum of two 16 MiB segments.
*/}}
{{- define "hookbridge.spoolMaxBytes" -}}
{{- $p := .Values.persistence }}
{{- $size := include "hookbridge.quantityBytes" $p.size | int64 }}
{{- $max := int64 0 }}
{{- if kindIs "invalid" $p.maxBytes }}
{{- $max = mulf $size 0.85 | floor | int64 }}
{{- else }}
{{- $max = int64 $p.maxBytes }}
{{- if gt $max $size }}
{{- fail (printf "persistence.maxBytes (%d) exceeds persistence.size (%s = %d bytes): the spool would fill the volume and fail its writes instead of answering 503" $max $p.size $size) }}
{{- end }}
{{- end }}
{{- if lt $max 33554432 }}
{{- fail (printf "persistence.size %s gives the spool %d bytes, below its minimum of 33554432 (two 16 MiB segments): raise persistence.size" $p.size $max) }}
{{- end }}
{{- $max }}
{{- end }}

{{/* The checks of the workload, Deployment or StatefulSet. */}}
{{- define "hookbridge.checkWorkload" -}}
{{- include "hookbridge.checkGracePeriod" . }}
{{- $as := .Values.autoscaling }}
{{- if and $as.enabled $as.external }}
{{- fail "autoscaling.enabled and autoscaling.external exclude each other: the chart's HPA and an external scaler (KEDA) would fight over the replica count" }}
{{- end }}
{{- if .Values.persistence.enabled }}
{{- include "hookbridge.checkPersistence" . }}
{{- end }}
{{- end }}

{{/* Fails the render on persistence settings that would lose or strand spooled records. */}}
{{- define "hookbridge.checkPersistence" -}}
{{- $p := .Values.persistence }}
{{- $as := .Values.autoscaling }}
{{- $pods := ternary (int $as.minReplicas) (int .Values.replicaCount) $as.enabled }}
{{- if and (not $as.external) (lt $pods 2) }}
{{- fail (printf "persistence.enabled needs at least 2 pods (%s is %d): a StatefulSet replaces its pods one at a time without a surge, so a single pod takes no webhook while it restarts" (ternary "autoscaling.minReplicas" "replicaCount" $as.enabled) $pods) }}
{{- end }}
{{- if eq $p.persistentVolumeClaimRetentionPolicy.whenScaled "Delete" }}
{{- fail "persistence.persistentVolumeClaimRetentionPolicy.whenScaled=Delete would delete a scaled-down pod's spool before Kafka acknowledged its records; keep Retain and delete drained claims yourself (docs/kubernetes.md#scaling-down-with-a-spool)" }}
{{- end }}
{{- if not .Values.podSecurityContext.fsGroup }}
{{- fail "persistence.enabled needs podSecurityContext.fsGroup: hookbridge runs as a non-root user and writes the volume through that group" }}
{{- end }}
{{- $_ := include "hookbridge.spoolMaxBytes" . }}
{{- end }}

{{/*
The Kafka security values in effect, as JSON {"sasl": …, "tls": …}: kafka.sasl and kafka.tls,
with what kafkaUser.enabled implies filled in where they leave it open (the mechanism or
client certificate, the user name, and the Secret Strimzi writes, named after the user).
*/}}
{{- define "hookbridge.kafkaSecurity" -}}
{{- $sasl := deepCopy .Values.kafka.sasl }}
{{- $tls := deepCopy .Values.kafka.tls }}
{{- $ku := .Values.kafkaUser }}
{{- if $ku.enabled }}
{{- $user := include "hookbridge.kafkaUserName" . }}
{{- if eq $ku.authentication "tls" }}
{{- $_ := set $tls "enabled" true }}
{{- $_ := set $tls "clientSecret" ($tls.clientSecret | default $user) }}
{{- else }}
{{- $_ := set $sasl "mechanism" ($sasl.mechanism | default "SCRAM-SHA-512") }}
{{- if not $sasl.usernameKey }}
{{- $_ := set $sasl "username" ($sasl.username | default $user) }}
{{- end }}
{{- $_ := set $sasl "existingSecret" ($sasl.existingSecret | default $user) }}
{{- end }}
{{- end }}
{{- toJson (dict "sasl" $sasl "tls" $tls) }}
{{- end }}

{{- define "hookbridge.kafkaUserName" -}}
{{- .Values.kafkaUser.name | default (include "hookbridge.fullname" .) }}
{{- end }}

{{/* The environments the credentials use, space-separated, sorted. */}}
{{- define "hookbridge.credentialEnvironments" -}}
{{- $envs := list }}
{{- range .Values.credentials }}{{ $envs = append $envs (.environment | default "production") }}{{ end }}
{{- $envs | uniq | sortAlpha | join " " }}
{{- end }}

{{/*
The Strimzi API version: kafkaTopics.apiVersion when set, else v1 when the cluster serves it
(Strimzi 0.49 and later; 1.0 serves nothing else), else v1beta2.
*/}}
{{- define "hookbridge.strimziApiVersion" -}}
{{- if .Values.kafkaTopics.apiVersion }}{{ .Values.kafkaTopics.apiVersion }}
{{- else if .Capabilities.APIVersions.Has "kafka.strimzi.io/v1" }}kafka.strimzi.io/v1
{{- else }}kafka.strimzi.io/v1beta2
{{- end }}
{{- end }}

{{/*
Every topic hookbridge writes to, as JSON [{"name", "deadletter"}], for the environments given
(dict "root" $ "envs" LIST): the 13 event topics and the dead-letter topic of each.
*/}}
{{- define "hookbridge.topicNames" -}}
{{- $kafka := .root.Values.config.kafka }}
{{- $topics := list }}
{{- range $env := .envs | uniq | sortAlpha }}
{{- range $event := include "hookbridge.eventSlugs" $.root | splitList " " }}
{{- $topics = append $topics (dict "name" ($kafka.topic_template | replace "{environment}" $env | replace "{event}" $event) "deadletter" false) }}
{{- end }}
{{- $dl := $kafka.deadletter_topic_template | replace "{environment}" $env }}
{{- if contains "{event}" $dl }}
{{- range $event := include "hookbridge.eventSlugs" $.root | splitList " " }}
{{- $topics = append $topics (dict "name" ($dl | replace "{event}" $event) "deadletter" true) }}
{{- end }}
{{- else }}
{{- $topics = append $topics (dict "name" $dl "deadletter" true) }}
{{- end }}
{{- end }}
{{- toJson $topics }}
{{- end }}

{{/* Labels of the pods: the selector, the version, and commonLabels merged with podLabels. */}}
{{- define "hookbridge.podLabels" -}}
{{ include "hookbridge.selectorLabels" . }}
app.kubernetes.io/version: {{ include "hookbridge.versionLabel" . }}
{{- with merge (deepCopy .Values.podLabels) .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The webhook paths an Ingress or HTTPRoute exposes, as JSON [{"path", "type"}]: the prefix,
then every config.routes path exactly. /metrics and the probes stay inside the cluster.
*/}}
{{- define "hookbridge.webhookPaths" -}}
{{- $paths := list (dict "path" (.Values.config.server.path_prefix | default "/everbright") "type" "PathPrefix") }}
{{- range keys (.Values.config.routes | default dict) | sortAlpha }}
{{- $paths = append $paths (dict "path" . "type" "Exact") }}
{{- end }}
{{- toJson $paths }}
{{- end }}

{{/* Labels of the `helm test` pod: this release's, but not the selector's (no Service routes to it). */}}
{{- define "hookbridge.testLabels" -}}
helm.sh/chart: {{ include "hookbridge.chart" . }}
app.kubernetes.io/name: {{ include "hookbridge.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The NOTES line of one monitoring object (dict "root" "kind" "values" "key" "selector"): whether it
was rendered, and whether a stock kube-prometheus-stack would select it.
*/}}
{{- define "hookbridge.notes.monitoring" -}}
{{- $root := .root }}
{{- $labels := merge (dict) (.values.labels | default dict) ($root.Values.commonLabels | default dict) }}
{{- if include "hookbridge.monitoringEnabled" (dict "mode" .values.enabled "root" $root) }}
{{- if hasKey $labels "release" }}
   {{ .kind }} "{{ include "hookbridge.fullname" $root }}" (job="{{ $root.Values.metrics.jobLabel }}") is installed with
   the label release={{ get $labels "release" }}: your Prometheus' {{ .selector }} must match it.
{{- else }}
   {{ .kind }} "{{ include "hookbridge.fullname" $root }}" is installed but has no `release` label: a stock
   kube-prometheus-stack selects only those labelled release=<its Helm release name> and ignores
   this one. Add --set {{ .key }}.labels.release=<that name> (or the labels of your
   Prometheus' {{ .selector }}).
{{- end }}
{{- else if eq (toString .values.enabled) "false" }}
   No {{ .kind }}: {{ .key }}.enabled is false.
{{- else }}
   No {{ .kind }}: this cluster does not serve monitoring.coreos.com/v1 (no Prometheus Operator).
   Set {{ .key }}.enabled=true to render it anyway (docs/kubernetes.md).
{{- end }}
{{- end }}
