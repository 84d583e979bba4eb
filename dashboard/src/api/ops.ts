/**
 * Every operation the dashboard sends, in one place: the public API's queries, mutations and
 * subscriptions, typed against graphql.schema. "Copy as GraphQL / curl" prints these same documents.
 */
import { graphql } from "./graphql";

export const TaskRow = graphql(`
  fragment TaskRow on Task @_unmask {
    id name state queue worker retries runtime seenAt receivedAt startedAt finishedAt exception
    parentId rootId
  }
`);

export const TASKS = graphql(
  `
  query Tasks($filter: TaskFilterInput, $first: Int, $after: String, $orderBy: TaskOrder!) {
    tasks(filter: $filter, first: $first, after: $after, orderBy: $orderBy) {
      edges { cursor node { ...TaskRow } }
      pageInfo { hasNextPage endCursor }
    }
  }
`,
  [TaskRow],
);

export const TASKS_COUNT = graphql(`
  query TasksCount($filter: TaskFilterInput) {
    tasks(filter: $filter, first: 1) { totalCount }
  }
`);

export const TASK_EXPORT = graphql(`
  query TaskExport($filter: TaskFilterInput, $first: Int, $after: String, $orderBy: TaskOrder!) {
    tasks(filter: $filter, first: $first, after: $after, orderBy: $orderBy) {
      edges { node {
        id name state queue worker retries runtime seenAt sentAt receivedAt startedAt finishedAt
        exception parentId rootId groupId
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const TASK_EVENTS = graphql(`
  subscription TaskEvents($filter: TaskFilterInput) {
    taskEvents(filter: $filter) {
      __typename
      ... on TaskEvent {
        kind at taskId name state queue worker retries receivedAt startedAt finishedAt runtime
        parentId rootId exception
      }
      ... on EventsMissed { count reason }
    }
  }
`);

/** Task detail without the sensitive fields, so a role that may not read them still gets a page. */
export const TASK = graphql(`
  query Task($id: String!) {
    task(id: $id) {
      id name state queue exchange routingKey worker retries eta expires sentAt receivedAt
      startedAt succeededAt failedAt retriedAt revokedAt finishedAt runtime parentId rootId groupId
      lastEventAt seenAt exception
      parent { id name state }
      children(first: 200) { id name state }
    }
  }
`);

/** The task's data (args, kwargs, result, traceback): may be null or FORBIDDEN for some roles. */
export const TASK_DATA = graphql(`
  query TaskData($id: String!) {
    task(id: $id) { id args kwargs argsJson kwargsJson result traceback }
  }
`);

export const CANVAS = graphql(`
  query Canvas($filter: TaskFilterInput) {
    tasks(filter: $filter, first: 200, orderBy: SEEN_ASC) {
      edges { node { id name state parentId rootId groupId retries } }
      pageInfo { hasNextPage }
    }
  }
`);

const AuditRow = graphql(`
  fragment AuditRow on AuditLog @_unmask {
    id createdAt finishedAt subject role action target outcome request response error errorCode
    durationMs ip
  }
`);

export const AUDIT_LOGS = graphql(
  `
  query AuditLogs($filter: AuditLogFilter, $first: Int!, $after: String) {
    auditLogs(filter: $filter, first: $first, after: $after) {
      edges { cursor node { ...AuditRow } }
      pageInfo { hasNextPage endCursor }
    }
  }
`,
  [AuditRow],
);

/** Asked once after sign-in: auditLogs is an admin field, so its answer says whether the API
 * grants management to this caller (until the API has `me`, issue 12). */
/** Who the caller is, as the API sees it: role and, for a scoped caller, its scopes. */
export const WHO_AM_I = graphql(`
  query WhoAmI { me { subject role issuer scoped scopes { binding queues taskNames workers } } }
`);

/** Whether management fields answer the caller: data for admins, FORBIDDEN for viewers. */
export const PROBE_ADMIN = graphql(`
  query ProbeAdmin { auditLogs(first: 1) { pageInfo { hasNextPage } } }
`);

/** Public: how to sign in at the identity provider, when single sign-on is configured. */
export const SIGN_IN_OPTIONS = graphql(`
  query SignInOptions { systemInfo { oidc { issuer clientId scopes audience } } }
`);

export const PROBE_VIEWER = graphql(`
  query ProbeViewer { systemInfo { name version } }
`);

const QueueMetricsFields = graphql(`
  fragment QueueMetricsFields on QueueMetrics @_unmask {
    name length unacked consumers oldestAgeSeconds oldestAgeSource oldestTaskId
  }
`);

const AlertFields = graphql(`
  fragment AlertFields on Alert @_unmask {
    key ruleId kind severity subject message value threshold raisedAt resolvedAt active
  }
`);

const SampleFields = graphql(
  `
  fragment SampleFields on MetricsSample @_unmask {
    takenAt intervalSeconds workersOnline tasksActive queuedTotal maxWaitSeconds
    queues { ...QueueMetricsFields }
    workers { hostname active processed poolSize }
    throughput {
      windowSeconds succeededPerMinute failedPerMinute
      byQueue { queue byState { state count } }
    }
  }
`,
  [QueueMetricsFields],
);

export const OVERVIEW = graphql(
  `
  query Overview($from: DateTime!, $to: DateTime!, $step: Int!) {
    dashboard {
      health
      components { name ok detail }
      metrics { ...SampleFields }
      metricsFresh
      activeAlerts { ...AlertFields }
      recentFailures
      recentFailuresWindowSeconds
    }
    metricsHistory(from: $from, to: $to, stepSeconds: $step) {
      at samples workersOnline tasksActive succeededPerMinute failedPerMinute queuedTotalMax
    }
    alertHistory: alerts(active: false, first: 100) { ...AlertFields }
    failures: tasks(filter: { states: [FAILURE] }, first: 8, orderBy: FINISHED_DESC) {
      edges { node { id name worker finishedAt exception } }
    }
  }
`,
  [SampleFields, AlertFields],
);

/** Operator actions for chart markers (admin; a viewer's chart simply has none). */
export const MARKERS = graphql(`
  query Markers($filter: AuditLogFilter) {
    auditLogs(filter: $filter, first: 200) {
      edges { node { id createdAt subject action target outcome } }
    }
  }
`);

export const METRICS = graphql(
  `
  subscription Metrics {
    metrics {
      __typename
      ... on MetricsSample { ...SampleFields }
      ... on EventsMissed { count reason }
    }
  }
`,
  [SampleFields],
);

export const ALERTS = graphql(
  `
  subscription Alerts {
    alerts(minSeverity: INFO) {
      __typename
      ... on AlertEvent { kind alert { ...AlertFields } }
      ... on EventsMissed { count reason }
    }
  }
`,
  [AlertFields],
);

export const WORKERS = graphql(`
  query Workers {
    workers(status: ALL) {
      hostname online status lastHeartbeat pid uptime load prefetchCount processedTotal
      softwareVersion registeredTasks
      pool { implementation processes maxConcurrency autoscaleMin autoscaleMax }
      activeTasks { id name startedAt }
      queues { name }
    }
  }
`);

export const WORKER_EVENTS = graphql(`
  subscription WorkerEvents {
    workerEvents {
      __typename
      ... on WorkerEvent { kind at hostname online active processed loadAverage }
      ... on EventsMissed { count reason }
    }
  }
`);

export const QUEUES = graphql(`
  query Queues {
    queues { name length unacked consumers consumerCount byPriority { priority messages } }
  }
`);

export const SYSTEM_STATUS = graphql(`
  query SystemStatus {
    systemStatus { health eventBus { connected reconnects lastError } broker { ok detail } }
  }
`);

export const SYSTEM_CONFIGURATION = graphql(`
  query SystemConfiguration { systemConfiguration { entries { key value version } } }
`);

const Payload = graphql(`
  fragment Payload on MutationPayload @_unmask {
    ok auditId errors { field message code } replies { hostname ok message }
  }
`);

export const REVOKE_TASK = graphql(
  `
  mutation RevokeTask($id: String!, $terminate: Boolean!) {
    revokeTask(id: $id, terminate: $terminate) { ...Payload observed }
  }
`,
  [Payload],
);

export const RETRY_TASK = graphql(
  `
  mutation RetryTask($id: String!) { retryTask(id: $id) { ...Payload taskIds } }
`,
  [Payload],
);

const Selection = graphql(`
  fragment Selection on TaskSelection @_unmask {
    token count expiresAt sample { id name state queue worker }
  }
`);

export const REVOKE_PREVIEW = graphql(
  `
  mutation RevokeTasksPreview($filter: TaskFilterInput!, $sampleSize: Int!) {
    revokeTasks(filter: $filter, sampleSize: $sampleSize) { ...Payload selection { ...Selection } }
  }
`,
  [Payload, Selection],
);

export const REVOKE_CONFIRM = graphql(
  `
  mutation RevokeTasksConfirm($selectionToken: String!, $terminate: Boolean!) {
    revokeTasks(selectionToken: $selectionToken, terminate: $terminate) { ...Payload taskIds }
  }
`,
  [Payload],
);

export const RETRY_PREVIEW = graphql(
  `
  mutation RetryTasksPreview($filter: TaskFilterInput!, $sampleSize: Int!) {
    retryTasks(filter: $filter, sampleSize: $sampleSize) { ...Payload selection { ...Selection } }
  }
`,
  [Payload, Selection],
);

export const RETRY_CONFIRM = graphql(
  `
  mutation RetryTasksConfirm($selectionToken: String!) {
    retryTasks(selectionToken: $selectionToken) { ...Payload taskIds }
  }
`,
  [Payload],
);

export const PURGE_QUEUE = graphql(
  `
  mutation PurgeQueue($name: String!) {
    purgeQueue(name: $name, confirm: true) { ...Payload purged }
  }
`,
  [Payload],
);

export const SET_RATE_LIMIT = graphql(
  `
  mutation SetRateLimit($taskName: String!, $rate: String!, $workers: [String!]) {
    setRateLimit(taskName: $taskName, rate: $rate, workers: $workers) { ...Payload }
  }
`,
  [Payload],
);

export const POOL_GROW = graphql(
  `
  mutation PoolGrow($n: Int!, $workers: [String!]) { poolGrow(n: $n, workers: $workers) { ...Payload } }
`,
  [Payload],
);

export const POOL_SHRINK = graphql(
  `
  mutation PoolShrink($n: Int!, $workers: [String!]) { poolShrink(n: $n, workers: $workers) { ...Payload } }
`,
  [Payload],
);

export const ADD_CONSUMER = graphql(
  `
  mutation AddConsumer($queue: String!, $workers: [String!]) {
    addConsumer(queue: $queue, workers: $workers) { ...Payload }
  }
`,
  [Payload],
);

export const CANCEL_CONSUMER = graphql(
  `
  mutation CancelConsumer($queue: String!, $workers: [String!]) {
    cancelConsumer(queue: $queue, workers: $workers) { ...Payload }
  }
`,
  [Payload],
);

export const POOL_RESTART = graphql(
  `
  mutation PoolRestart($workers: [String!]) { poolRestart(workers: $workers) { ...Payload } }
`,
  [Payload],
);

export const SHUTDOWN_WORKER = graphql(
  `
  mutation ShutdownWorker($hostname: String!) { shutdownWorker(hostname: $hostname) { ...Payload } }
`,
  [Payload],
);

export const SHUTDOWN_SYSTEM = graphql(
  `
  mutation ShutdownSystem($drain: Boolean!, $drainTimeout: Float!) {
    shutdownSystem(drain: $drain, drainTimeout: $drainTimeout) { ...Payload steps { name ok detail } }
  }
`,
  [Payload],
);

export const UPDATE_CONFIG = graphql(
  `
  mutation UpdateSystemConfig($key: String!, $value: JSON!, $expectedVersion: Int) {
    updateSystemConfig(key: $key, value: $value, expectedVersion: $expectedVersion) {
      ...Payload entry { key version }
    }
  }
`,
  [Payload],
);
