/**
 * The group commit function, second version.
 *
 * 1. node_events.node_id is checked once per batch instead of by a foreign key. The key ran a
 *    referential-integrity trigger for every inserted event: a lookup of the node with a row lock
 *    (FOR KEY SHARE) that also rewrote the node's tuple header. A transition writes about two
 *    events, and in a group commit of 500 transitions those per-row checks were a fifth of
 *    PostgreSQL's CPU (64 -> 51 us per transition without them, replaying real batches). Every
 *    event reaches the table through this function, so it now probes the nodes of the events it
 *    inserted and fails the whole batch with the error the key gave (SQLSTATE 23503, constraint
 *    node_events_node_id_fkey). A node deleted while it has history is refused by a trigger on
 *    nodes. (Switchboard deletes nodes softly, so neither path is taken in normal operation; what
 *    is lost is the key's row lock against a concurrent hard delete, which no Switchboard code
 *    issues.)
 * 2. Instants arrive as epoch milliseconds (JSON numbers) instead of ISO strings: building the
 *    strings was a third of the payload's cost on the host (Date.prototype.toJSON).
 */
import { sql, type Kysely } from 'kysely';
import * as commitBatchV1 from './0002_commit_batch_function.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await sql`alter table node_events drop constraint node_events_node_id_fkey`.execute(db);
  await sql`drop function switchboard_commit_batch(json, json, json)`.execute(db);
  await sql`
    create function switchboard_commit_batch(p_snapshots json, p_ops json, p_events json)
    returns table (event_id bigint)
    language plpgsql
    as $fn$
    declare
      v_written text[];
      v_stale text;
      v_ids bigint[];
      v_missing text;
    begin
      with written as (
        insert into node_snapshots (node_id, machine_version, seq, snapshot, status, observed, desired, updated_at)
        select r.node_id, r.machine_version, r.seq, r.snapshot, r.status, r.observed, r.desired,
          coalesce(to_timestamp(r.updated_at / 1000.0), now())
        from json_to_recordset(p_snapshots) as r(
          node_id text, machine_version integer, seq bigint, snapshot jsonb,
          status text, observed text, desired text, updated_at double precision)
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
      select r.id, r.node_id, r.action, r.origin, r.requested_by, r.state, r.error, r.attempts,
        to_timestamp(r.requested_at / 1000.0), to_timestamp(r.started_at / 1000.0), to_timestamp(r.finished_at / 1000.0)
      from json_to_recordset(p_ops) as r(
        id text, node_id text, action text, origin text, requested_by text, state text, error text,
        attempts integer, requested_at double precision, started_at double precision, finished_at double precision)
      on conflict (id) do update set
        state = excluded.state,
        error = excluded.error,
        attempts = greatest(power_ops.attempts, excluded.attempts),
        started_at = coalesce(power_ops.started_at, excluded.started_at),
        finished_at = coalesce(excluded.finished_at, power_ops.finished_at);

      -- Identity values follow the SELECT's order, so ids come back in the batch's order. The
      -- node check probes the events just inserted, so their JSON is parsed once.
      with inserted as (
        insert into node_events (node_id, at, kind, origin, actor, op_id, detail)
        select r.node_id, to_timestamp(r.at / 1000.0), r.kind, r.origin, r.actor, r.op_id, r.detail
        from json_to_recordset(p_events) as r(
          ord integer, node_id text, at double precision, kind text, origin text, actor text, op_id text, detail jsonb)
        order by r.ord
        returning node_events.id, node_events.node_id
      )
      -- A lateral probe per event: with 'not exists' the cached generic plan hash-joined the
      -- whole nodes table on every call (0.45 ms for a batch of five transitions at 4,000 nodes).
      select array_agg(inserted.id order by inserted.id),
        (select i.node_id from inserted i
          left join lateral (select true as found from nodes where nodes.id = i.node_id limit 1) n on true
          where n.found is null limit 1)
      into v_ids, v_missing
      from inserted;
      if v_missing is not null then
        raise exception 'insert or update on table "node_events" violates foreign key constraint "node_events_node_id_fkey"'
          using errcode = '23503', constraint = 'node_events_node_id_fkey', table = 'node_events',
                detail = format('Key (node_id)=(%s) is not present in table "nodes".', v_missing);
      end if;
      return query select unnest(v_ids);
    end
    $fn$`.execute(db);
  await sql`
    create function switchboard_nodes_keep_history() returns trigger
    language plpgsql
    as $fn$
    begin
      if exists (select 1 from node_events where node_id = old.id) then
        raise exception 'update or delete on table "nodes" violates foreign key constraint "node_events_node_id_fkey" on table "node_events"'
          using errcode = '23503', constraint = 'node_events_node_id_fkey', table = 'nodes',
                detail = format('Key (id)=(%s) is still referenced from table "node_events".', old.id);
      end if;
      return old;
    end
    $fn$`.execute(db);
  await sql`
    create trigger nodes_keep_history before delete on nodes
    for each row execute function switchboard_nodes_keep_history()`.execute(db);
}

export async function down(db: AnyDb): Promise<void> {
  await sql`drop trigger if exists nodes_keep_history on nodes`.execute(db);
  await sql`drop function if exists switchboard_nodes_keep_history()`.execute(db);
  await sql`drop function if exists switchboard_commit_batch(json, json, json)`.execute(db);
  await commitBatchV1.up(db);
  await sql`alter table node_events add constraint node_events_node_id_fkey foreign key (node_id) references nodes (id)`.execute(db);
}
