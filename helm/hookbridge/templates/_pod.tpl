{{/*
The pod template of hookbridge's workload, rendered by the Deployment, or by the StatefulSet with
persistence.enabled (which adds the volume `spool` from its volumeClaimTemplates).
*/}}
{{- define "hookbridge.podTemplate" -}}
{{- $security := include "hookbridge.kafkaSecurity" . | fromJson }}
{{- $sasl := $security.sasl }}
{{- $tls := $security.tls }}
{{- $persist := .Values.persistence.enabled }}
metadata:
  labels:
    {{- include "hookbridge.podLabels" . | nindent 4 }}
  annotations:
    # A config change rolls the pods. The credentials Secret has no checksum on purpose:
    # hookbridge reloads changed secret files live, so rotating a credential needs no restart.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "hookbridge.serviceAccountName" . }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- /* With a volume: chown it to fsGroup only when its root does not match yet (a full spool holds many files). */}}
    {{- $podSecurity := .Values.podSecurityContext }}
    {{- if $persist }}{{ $podSecurity = merge (deepCopy $podSecurity) (dict "fsGroupChangePolicy" "OnRootMismatch") }}{{ end }}
    {{- toYaml $podSecurity | nindent 4 }}
  terminationGracePeriodSeconds: {{ include "hookbridge.terminationGracePeriodSeconds" . }}
  {{- with .Values.initContainers }}
  initContainers:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: hookbridge
      image: {{ include "hookbridge.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - serve
        - --config
        - {{ include "hookbridge.configDir" . }}/hookbridge.toml
      env:
        - name: HOOKBRIDGE_LOG_FORMAT
          value: {{ .Values.logFormat | quote }}
        - name: RUST_LOG
          value: {{ .Values.logLevel | quote }}
        {{- with include "hookbridge.otelEnv" . }}
        {{- trim . | nindent 8 }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ .Values.ports.http }}
          protocol: TCP
        - name: admin
          containerPort: {{ .Values.ports.admin }}
          protocol: TCP
      {{- if .Values.startupProbe.enabled }}
      startupProbe:
        httpGet:
          path: /livez
          port: admin
        periodSeconds: {{ .Values.startupProbe.periodSeconds }}
        timeoutSeconds: {{ .Values.startupProbe.timeoutSeconds }}
        failureThreshold: {{ .Values.startupProbe.failureThreshold }}
      {{- end }}
      livenessProbe:
        httpGet:
          path: /livez
          port: admin
        periodSeconds: {{ .Values.livenessProbe.periodSeconds }}
        timeoutSeconds: {{ .Values.livenessProbe.timeoutSeconds }}
        failureThreshold: {{ .Values.livenessProbe.failureThreshold }}
      readinessProbe:
        # 200 only while a broker answered metadata in the last 5 s, records are being
        # acknowledged, and hookbridge is not draining.
        httpGet:
          path: /readyz
          port: admin
        periodSeconds: {{ .Values.readinessProbe.periodSeconds }}
        timeoutSeconds: {{ .Values.readinessProbe.timeoutSeconds }}
        failureThreshold: {{ .Values.readinessProbe.failureThreshold }}
        successThreshold: {{ .Values.readinessProbe.successThreshold }}
      lifecycle:
        # The image has no shell: the kubelet's own sleep action (Kubernetes >= 1.30).
        # SIGTERM follows it; hookbridge then turns not-ready, drains and flushes Kafka.
        preStop:
          sleep:
            seconds: {{ .Values.preStopSleepSeconds }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        # Whole-directory mounts, never subPath: the kubelet's atomic swap then reaches
        # hookbridge, which reloads the changed files.
        - name: config
          mountPath: {{ include "hookbridge.configDir" . }}
          readOnly: true
        - name: credentials
          mountPath: {{ include "hookbridge.credentialsDir" . }}
          readOnly: true
        {{- if $sasl.mechanism }}
        - name: kafka-sasl
          mountPath: {{ include "hookbridge.kafkaSaslDir" . }}
          readOnly: true
        {{- end }}
        {{- if and $tls.enabled $tls.caSecret }}
        - name: kafka-ca
          mountPath: {{ include "hookbridge.kafkaCaDir" . }}
          readOnly: true
        {{- end }}
        {{- if and $tls.enabled $tls.clientSecret }}
        - name: kafka-client
          mountPath: {{ include "hookbridge.kafkaClientDir" . }}
          readOnly: true
        {{- end }}
        - name: tmp
          mountPath: /tmp
        {{- if $persist }}
        - name: spool
          mountPath: {{ .Values.persistence.mountPath }}
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- range .Values.extraContainers }}
    {{- if eq .name "hookbridge" }}
    {{- fail "extraContainers: the name \"hookbridge\" is taken by hookbridge's own container" }}
    {{- end }}
    {{- toYaml (list .) | nindent 4 }}
    {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "hookbridge.fullname" . }}
    - name: credentials
      secret:
        secretName: {{ include "hookbridge.credentialsSecretName" . }}
        defaultMode: 0440
    {{- if $sasl.mechanism }}
    - name: kafka-sasl
      secret:
        secretName: {{ $sasl.existingSecret }}
        defaultMode: 0440
    {{- end }}
    {{- if and $tls.enabled $tls.caSecret }}
    - name: kafka-ca
      secret:
        secretName: {{ $tls.caSecret }}
        defaultMode: 0440
    {{- end }}
    {{- if and $tls.enabled $tls.clientSecret }}
    - name: kafka-client
      secret:
        secretName: {{ $tls.clientSecret }}
        defaultMode: 0440
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 16Mi
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range . }}
    {{- $c := deepCopy . }}
    {{- if not (hasKey $c "labelSelector") }}
    {{- $_ := set $c "labelSelector" (dict "matchLabels" (include "hookbridge.selectorLabels" $ | fromYaml)) }}
    {{- end }}
    {{- /* A StatefulSet's pods have no pod-template-hash label. */}}
    {{- if not (or (hasKey $c "matchLabelKeys") $persist) }}
    {{- $_ := set $c "matchLabelKeys" (list "pod-template-hash") }}
    {{- end }}
    {{- toYaml (list $c) | nindent 4 }}
    {{- end }}
  {{- end }}
{{- end }}
