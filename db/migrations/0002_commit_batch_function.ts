/**
 * The group commit as one server-side function: a batch of snapshots, ops and events lands in
 * one round trip instead of five (BEGIN, three statements, COMMIT). On a busy host each round
 * trip waited for a turn of a saturated event loop and cost a socket write; the function runs
 * as one statement, so it is atomic on its own and joins a caller's transaction when there is one.
 *
 * A snapshot whose seq is not above the stored one fails the whole call with SQLSTATE SB409
 * and the refused node ids (a JSON array) as the error detail.
 */
import { sql, type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await sql`
    create function switchboard_commit_batch(p_snapshots json, p_ops json, p_events json)
    returns table (event_id bigint)
    language plpgsql
    as $fn$
    declare
      v_written text[];
      v_stale text;
    begin
      with written as (
        insert into node_snapshots (node_id, machine_version, seq, snapshot, status, observed, desired, updated_at)
        select r.node_id, r.machine_version, r.seq, r.snapshot, r.status, r.observed, r.desired, coalesce(r.updated_at, now())
        from json_to_recordset(p_snapshots) as r(
          node_id text, machine_version integer, seq bigint, snapshot jsonb,
          status text, observed text, desired text, updated_at timestamptz)
        on conflict (node_id) do update set
          machine_version = excluded.machine_version,
          seq = excluded.seq,
          snapshot = excluded.snapshot,
          status = excluded.status,
          observed = excluded.observed,
          desired = excluded.desired,
          updated_at = excluded.updated_at
        where node_snapshots.seq < excluded.seq
        returning node_snapshots.node_id
      )
      select coalesce(array_agg(written.node_id), '{}') into v_written from written;

      if cardinality(v_written) <> json_array_length(p_snapshots) then
        select json_agg(e.value->>'node_id' order by e.ord)::text into v_stale
        from json_array_elements(p_snapshots) with ordinality as e(value, ord)
        where not (e.value->>'node_id' = any (v_written));
        raise exception 'snapshot seq is not above the stored one' using errcode = 'SB409', detail = v_stale;
      end if;

      insert into power_ops (id, node_id, action, origin, requested_by, state, error, attempts, requested_at, started_at, finished_at)
      select r.id, r.node_id, r.action, r.origin, r.requested_by, r.state, r.error, r.attempts, r.requested_at, r.started_at, r.finished_at
      from json_to_recordset(p_ops) as r(
        id text, node_id text, action text, origin text, requested_by text, state text, error text,
        attempts integer, requested_at timestamptz, started_at timestamptz, finished_at timestamptz)
      on conflict (id) do update set
        state = excluded.state,
        error = excluded.error,
        attempts = greatest(power_ops.attempts, excluded.attempts),
        started_at = coalesce(power_ops.started_at, excluded.started_at),
        finished_at = coalesce(excluded.finished_at, power_ops.finished_at);

      -- Identity values follow the SELECT's order, so ids come back in the batch's order.
      return query
      with inserted as (
        insert into node_events (node_id, at, kind, origin, actor, op_id, detail)
        select r.node_id, r.at, r.kind, r.origin, r.actor, r.op_id, r.detail
        from json_to_recordset(p_events) as r(
          ord integer, node_id text, at timestamptz, kind text, origin text, actor text, op_id text, detail jsonb)
        order by r.ord
        returning node_events.id
      )
      select inserted.id from inserted order by inserted.id;
    end
    $fn$`.execute(db);
}

export async function down(db: AnyDb): Promise<void> {
  await sql`drop function if exists switchboard_commit_batch(json, json, json)`.execute(db);
}
