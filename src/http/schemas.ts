/**
 * TypeBox schemas of the API: validation of what comes in, serialisation of what goes out
 * (a reply carries only the properties named here, which keeps driver params out of every node),
 * and the OpenAPI document.
 */
import { Type, type TSchema } from '@fastify/type-provider-typebox';
import { LIFECYCLE_EVENT_TYPES } from '../machines/gating.ts';
import { DESIRED_STATES, DRIFT_POLICIES, OBSERVED_STATES, OP_STATES, ORIGINS, POWER_ACTIONS, READINGS, STATUSES } from '../machines/types.ts';
import { DRIVER_NAMES } from '../drivers/types.ts';
import { MAX_PAGE_SIZE, TOKEN_ROLES } from '../db/index.ts';
import { CHART_FORMATS } from '../chart/index.ts';

/** A string enum, typed as the union of its values (plain `{type: string, enum}` in the OpenAPI document). */
const literals = <T extends string>(values: readonly T[], options: Record<string, unknown> = {}) =>
  Type.Unsafe<T>(Type.String({ ...options, enum: [...values] }));

export const StatusSchema = literals(STATUSES);
export const PowerActionSchema = literals(POWER_ACTIONS);
export const LifecycleEventSchema = literals(LIFECYCLE_EVENT_TYPES);
export const OriginSchema = literals(ORIGINS);
export const ObservedSchema = literals(OBSERVED_STATES);
export const ReadingSchema = literals(READINGS);
export const DesiredSchema = Type.Union([literals(DESIRED_STATES), Type.Null()]);
export const DriverSchema = literals(DRIVER_NAMES);
export const DriftPolicySchema = literals(DRIFT_POLICIES);
export const RoleSchema = literals(TOKEN_ROLES);
export const OpStateSchema = literals(OP_STATES);
export const ChartFormatSchema = literals(CHART_FORMATS);

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });

/** A node's id or its name. */
/** No control characters: they are never part of an id or name, and PostgreSQL refuses NUL. */
const PRINTABLE = '^[^\\u0000-\\u001f\\u007f]+$';
export const NodeRef = Type.String({ minLength: 1, maxLength: 255, pattern: PRINTABLE });
export const NodeRefParams = Type.Object({ id: NodeRef }, { additionalProperties: false });

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Object({}, { additionalProperties: true })),
    }),
  },
  { description: 'Every error: a code from the error catalogue and a message saying what to do.' },
);

export const NodeViewSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    status: StatusSchema,
    power: Type.Object({
      observed: ObservedSchema,
      desired: DesiredSchema,
      inFlight: Nullable(
        Type.Object({
          opId: Type.String(),
          action: PowerActionSchema,
          origin: OriginSchema,
          step: Type.String(),
          attempt: Type.Integer(),
        }),
      ),
      pending: Nullable(Type.Object({ opId: Type.String(), action: PowerActionSchema, origin: OriginSchema })),
      phase: literals(['idle', 'dispatching', 'polling', 'waiting', 'confirming', 'backoff'] as const),
      command: Nullable(
        Type.Object(
          {
            state: literals(['queued_for_bmc', 'queued_for_global_cap', 'sent', 'waiting_out'] as const),
            since: Type.String(),
            until: Nullable(Type.String()),
          },
          { description: 'The driver command out now. waiting_out: its client gave up; the BMC may still carry it out until `until`, and nothing else is sent to the node or its BMC before then.' },
        ),
      ),
      readError: Nullable(Type.String({ description: 'The BMC could not be read; cleared by its next answer' })),
      lastError: Nullable(Type.String()),
    }),
    timing: Nullable(
      Type.Object(
        {
          requestTimeoutMs: Type.Integer(),
          commandBudgetMs: Type.Integer(),
          settleMs: Type.Integer(),
          stepTimeoutMs: Type.Integer(),
          attempts: Type.Integer(),
          minIntervalMs: Type.Integer(),
        },
        { description: 'The driver’s timing with this node’s overrides (params.timing)' },
      ),
    ),
    allowed: Type.Object({ power: Type.Array(PowerActionSchema), lifecycle: Type.Array(LifecycleEventSchema) }),
    driver: DriverSchema,
    bmc: Type.String(),
    driftPolicy: DriftPolicySchema,
    softOffEscalate: Type.Boolean(),
    fault: Nullable(Type.String()),
    updatedAt: Type.String(),
  },
  { description: 'A node. Driver params are write-only and never part of it.' },
);

export const OpSchema = Type.Object({
  id: Type.String(),
  nodeId: Type.String(),
  action: PowerActionSchema,
  origin: OriginSchema,
  requestedBy: Nullable(Type.String()),
  state: OpStateSchema,
  error: Nullable(Type.String()),
  attempts: Type.Integer(),
  requestedAt: DateTime,
  startedAt: Nullable(DateTime),
  finishedAt: Nullable(DateTime),
});

export const EventSchema = Type.Object({
  id: Type.Integer(),
  nodeId: Type.String(),
  at: DateTime,
  kind: Type.String(),
  origin: Nullable(OriginSchema),
  actor: Nullable(Type.String()),
  opId: Nullable(Type.String()),
  detail: Type.Object({}, { additionalProperties: true }),
});

export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: 100 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Nullable(Type.String()) });

/** Driver params: checked against the driver's own schema by the host. Secrets in them are write-only. */
export const DriverParams = Type.Unsafe<Record<string, unknown>>(
  Type.Object({}, { additionalProperties: true, maxProperties: 64, description: 'Driver params; see the driver\'s documentation' }),
);

export const CreateNodeBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]*$' }),
    driver: DriverSchema,
    params: DriverParams,
    bmc: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    driftPolicy: Type.Optional(DriftPolicySchema),
    softOffEscalate: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const UpdateNodeBody = Type.Partial(CreateNodeBody, { additionalProperties: false, minProperties: 1 });

export const ListNodesQuery = Type.Object(
  {
    status: Type.Optional(Type.Array(StatusSchema, { maxItems: STATUSES.length })),
    power: Type.Optional(Type.Array(ObservedSchema, { maxItems: 4, description: 'Observed power: ?power=on' })),
    limit: PageQuery.properties.limit,
    cursor: PageQuery.properties.cursor,
  },
  { additionalProperties: false },
);

export const PowerBody = Type.Object({ action: PowerActionSchema }, { additionalProperties: false });
export const ConfirmBody = Type.Object({ observed: ReadingSchema }, { additionalProperties: false });
export const LifecycleBody = Type.Object({ event: LifecycleEventSchema }, { additionalProperties: false });

/** A rack row or a whole small site in one request; 10,000 ids fit the body limit with room to spare. */
export const MAX_BULK_NODES = 10_000;
export const BulkPowerBody = Type.Object(
  {
    nodes: Type.Array(NodeRef, { minItems: 1, maxItems: MAX_BULK_NODES }),
    action: PowerActionSchema,
  },
  { additionalProperties: false },
);

export const OpAndNode = Type.Object({ op: Nullable(OpSchema), node: NodeViewSchema });

export const BulkResult = Type.Object({
  node: Type.String({ description: 'The id or name as given' }),
  nodeId: Type.Optional(Type.String()),
  status: Type.Integer({ description: '202 accepted, 200 coalesced, 409 refused, 404 unknown node (or another error status)' }),
  op: Type.Optional(OpSchema),
  error: Type.Optional(ErrorBody.properties.error),
});

export const TokenSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  createdAt: DateTime,
  lastUsedAt: Nullable(DateTime),
  revokedAt: Nullable(DateTime),
});

export const CreateTokenBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 100, pattern: PRINTABLE }), role: RoleSchema },
  { additionalProperties: false },
);

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 255, pattern: PRINTABLE }) }, { additionalProperties: false });

/** Error replies a route documents; the one error handler produces them. */
export function errors(...statuses: number[]): Record<number, typeof ErrorBody> {
  const out: Record<number, typeof ErrorBody> = {};
  for (const s of [400, 401, 403, ...statuses]) out[s] = ErrorBody;
  return out;
}
