{{/*
Rendering hookbridge.toml from values. Explicit rather than `toToml`: Helm reads every YAML
number as a float64 (toToml would write 1048576 as a float, which hookbridge rejects), secret
references must become `{ file = … }`, and librdkafka property values must stay strings.
*/}}

{{/* The credential fields that hold secrets (docs/reference.md#secrets). */}}
{{- define "hookbridge.secretFields" -}}
value password client_secret secret_access_key
{{- end }}

{{/* A TOML key: bare when it can be, quoted otherwise ("sasl.mechanism", "/hooks/x"). */}}
{{- define "hookbridge.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . }}{{ . }}{{ else }}{{ toJson . }}{{ end }}
{{- end }}

{{/*
A TOML value. JSON string escapes are valid TOML basic-string escapes; whole numbers are
written as integers.
*/}}
{{- define "hookbridge.toml.value" -}}
{{- $kind := kindOf . }}
{{- if eq $kind "string" }}{{ toJson . }}
{{- else if eq $kind "bool" }}{{ . }}
{{- else if has $kind (list "int" "int64" "float64") }}
{{- if eq (float64 .) (floor .) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else if eq $kind "slice" }}[{{ range $i, $e := . }}{{ if $i }}, {{ end }}{{ include "hookbridge.toml.value" $e }}{{ end }}]
{{- else if eq $kind "map" }}{ {{- range $i, $k := keys . | sortAlpha }}{{ if $i }},{{ end }} {{ include "hookbridge.toml.key" $k }} = {{ include "hookbridge.toml.value" (get $ $k) }}{{ end }} }
{{- else }}{{ fail (printf "hookbridge.toml: cannot render a %s value" $kind) }}
{{- end }}
{{- end }}

{{/*
One secret reference → TOML. dict "ref" ({secretKey}|{file}|{env}) "root" $.
secretKey names a key of the credentials Secret, mounted as a file.
*/}}
{{- define "hookbridge.toml.secretRef" -}}
{{- $ref := .ref }}
{{- if hasKey $ref "secretKey" }}{ file = {{ printf "%s/%s" (include "hookbridge.credentialsDir" .root) $ref.secretKey | toJson }} }
{{- else if hasKey $ref "file" }}{ file = {{ toJson $ref.file }} }
{{- else if hasKey $ref "env" }}{ env = {{ toJson $ref.env }} }
{{- else }}{{ fail "a secret reference needs one of secretKey, file, env" }}
{{- end }}
{{- end }}

{{/* A secret field: one reference, or a list of them (any one matches: rotation). */}}
{{- define "hookbridge.toml.secret" -}}
{{- $root := .root }}
{{- if kindIs "slice" .ref }}[{{ range $i, $r := .ref }}{{ if $i }}, {{ end }}{{ include "hookbridge.toml.secretRef" (dict "ref" $r "root" $root) }}{{ end }}]
{{- else if kindIs "map" .ref }}{{ include "hookbridge.toml.secretRef" . }}
{{- else }}{{ fail "a secret field takes {secretKey: KEY}, {file: PATH}, {env: VAR} or a list of them, never a literal" }}
{{- end }}
{{- end }}

{{/* Every key of the credentials Secret that the config refers to, space-separated. */}}
{{- define "hookbridge.referencedSecretKeys" -}}
{{- $keys := list }}
{{- $fields := include "hookbridge.secretFields" . | splitList " " }}
{{- $values := list }}
{{- range .Values.credentials }}
{{- $cred := . }}
{{- range $fields }}
{{- if hasKey $cred . }}{{ $values = append $values (get $cred .) }}{{ end }}
{{- end }}
{{- end }}
{{- range $k, $v := .Values.config.kafka.properties }}
{{- $values = append $values $v }}
{{- end }}
{{- range $values }}
{{- $refs := ternary . (list .) (kindIs "slice" .) }}
{{- range $refs }}
{{- if and (kindIs "map" .) (hasKey . "secretKey") }}{{ $keys = append $keys .secretKey }}{{ end }}
{{- end }}
{{- end }}
{{- $keys | uniq | sortAlpha | join " " }}
{{- end }}

{{/*
kafka.properties as JSON: what the `kafka` (and `kafkaUser`) values imply (security.protocol,
sasl.*, ssl.*), overridden by config.kafka.properties.
*/}}
{{- define "hookbridge.kafkaProperties" -}}
{{- $props := dict }}
{{- $security := include "hookbridge.kafkaSecurity" . | fromJson }}
{{- $sasl := $security.sasl }}
{{- $tls := $security.tls }}
{{- if $sasl.mechanism }}
{{- $_ := set $props "security.protocol" (ternary "SASL_SSL" "SASL_PLAINTEXT" $tls.enabled) }}
{{- $_ := set $props "sasl.mechanism" $sasl.mechanism }}
{{- if $sasl.usernameKey }}
{{- $_ := set $props "sasl.username" (dict "file" (printf "%s/%s" (include "hookbridge.kafkaSaslDir" .) $sasl.usernameKey)) }}
{{- else }}
{{- $_ := set $props "sasl.username" (required "kafka.sasl.username (or usernameKey) is required with kafka.sasl.mechanism" $sasl.username) }}
{{- end }}
{{- $_ := required "kafka.sasl.existingSecret is required with kafka.sasl.mechanism" $sasl.existingSecret }}
{{- $_ := set $props "sasl.password" (dict "file" (printf "%s/%s" (include "hookbridge.kafkaSaslDir" .) $sasl.passwordKey)) }}
{{- else if $tls.enabled }}
{{- $_ := set $props "security.protocol" "SSL" }}
{{- end }}
{{- if $tls.enabled }}
{{- if $tls.caSecret }}
{{- /* The PEM itself, read from the file as a secret reference: hookbridge fingerprints the
       file and, when Strimzi renews its CA, reloads it with a fresh producer. */}}
{{- $_ := set $props "ssl.ca.pem" (dict "file" (printf "%s/%s" (include "hookbridge.kafkaCaDir" .) $tls.caKey)) }}
{{- else }}
{{- $_ := set $props "ssl.ca.location" (include "hookbridge.systemCaBundle" .) }}
{{- end }}
{{- if $tls.clientSecret }}
{{- $_ := set $props "ssl.certificate.location" (printf "%s/%s" (include "hookbridge.kafkaClientDir" .) $tls.certKey) }}
{{- $_ := set $props "ssl.key.location" (printf "%s/%s" (include "hookbridge.kafkaClientDir" .) $tls.keyKey) }}
{{- end }}
{{- end }}
{{- range $k, $v := .Values.config.kafka.properties }}
{{- $_ := set $props $k $v }}
{{- end }}
{{- toJson $props }}
{{- end }}

{{/* A kafka.properties value: a string, or a secret reference. */}}
{{- define "hookbridge.toml.property" -}}
{{- if or (kindIs "map" .value) (kindIs "slice" .value) }}{{ include "hookbridge.toml.secret" (dict "ref" .value "root" .root) }}
{{- else if kindIs "float64" .value }}{{ include "hookbridge.toml.value" .value | toJson }}
{{- else }}{{ toString .value | toJson }}
{{- end }}
{{- end }}

{{/* Scalar and array keys of a table, in key order; nested tables are skipped. */}}
{{- define "hookbridge.toml.scalars" -}}
{{- $table := . }}
{{- range $k := keys $table | sortAlpha }}
{{- $v := get $table $k }}
{{- if and (not (kindIs "map" $v)) (not (kindIs "invalid" $v)) }}
{{ include "hookbridge.toml.key" $k }} = {{ include "hookbridge.toml.value" $v }}
{{- end }}
{{- end }}
{{- end }}

{{- define "hookbridge.toml" -}}
{{- $root := . }}
{{- $config := .Values.config }}
{{- $secretFields := include "hookbridge.secretFields" . | splitList " " -}}
# hookbridge configuration; docs/reference.md#config-file describes every key. hookbridge
# reloads this file, and the secret files it names, when they change.

[server]
listen = {{ printf "0.0.0.0:%d" (int .Values.ports.http) | toJson }}
admin_listen = {{ printf "0.0.0.0:%d" (int .Values.ports.admin) | toJson }}
{{- include "hookbridge.toml.scalars" $config.server }}

[kafka]
{{- include "hookbridge.toml.scalars" $config.kafka }}
{{- $props := include "hookbridge.kafkaProperties" . | fromJson }}
{{- if $props }}

[kafka.properties]
{{- range $k := keys $props | sortAlpha }}
{{ include "hookbridge.toml.key" $k }} = {{ include "hookbridge.toml.property" (dict "value" (get $props $k) "root" $root) }}
{{- end }}
{{- end }}
{{- with $config.routes }}

[routes]
{{- include "hookbridge.toml.scalars" . }}
{{- end }}

[payload]
{{- include "hookbridge.toml.scalars" $config.payload }}
{{- with $config.payload.site_pointers }}

[payload.site_pointers]
{{- include "hookbridge.toml.scalars" . }}
{{- end }}
{{- with $config.dedup }}

[dedup]
{{- include "hookbridge.toml.scalars" . }}
{{- end }}
{{- if .Values.persistence.enabled }}

# persistence.enabled: the spool on the pod's own volume (docs/reference.md#spool).
[spool]
dir = {{ printf "%s/spool" .Values.persistence.mountPath | toJson }}
max_bytes = {{ include "hookbridge.spoolMaxBytes" . }}
drain_timeout = {{ .Values.persistence.drainTimeout | toJson }}
{{- end }}
{{- range .Values.credentials }}
{{- $cred := . }}

[[credentials]]
{{- range $k := concat (list "name" "environment" "scheme") (without (keys $cred | sortAlpha) "name" "environment" "scheme") }}
{{- $v := get $cred $k }}
{{- if has $k $secretFields }}
{{ $k }} = {{ include "hookbridge.toml.secret" (dict "ref" $v "root" $root) }}
{{- else if and (hasKey $cred $k) (not (kindIs "invalid" $v)) }}
{{ include "hookbridge.toml.key" $k }} = {{ include "hookbridge.toml.value" $v }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
