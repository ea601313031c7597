"""Every Redis key Ostra writes, under one prefix.

Keys of one execution share the ``{execution_id}`` hash tag, so they live in one
cluster slot and one Lua script may touch them all. Only this module names keys: a Lua
step is handed every key it touches (DESIGN.md rule 8; see ``_lib.lua``).

==============================  ======  ==================================================
key                             type    holds
==============================  ======  ==================================================
P:flow:NS:ID                    hash    ``revision`` (latest), ``digest``; once deleted
                                        only ``deleted`` (the revision it took)
P:flow:NS:ID:REV                string  the flow revision, as JSON
P:flow:NS:ID:REV:source         string  the YAML text it was deployed as, byte for byte
P:flows                         zset    ``NS:ID`` of every deployed flow
P:{EID}:exec                    hash    the execution (state, inputs, labels, outputs, ...;
                                        ``h``: its state history, JSON ``{state, date}``
                                        entries joined by commas)
P:{EID}:exec:ev                 stream  execution state changes only (for ``wait``)
P:{EID}:trs                     list    task run ids in creation order
P:{EID}:trkey                   hash    ``taskId|parentTaskRunId|value[#iteration]`` -> id
P:{EID}:tv                      hash    ``taskId|value`` -> task run id (for ``outputs``;
                                        top-level task runs are found in ``trkey``)
P:{EID}:flowables               set     ids of its flowable task runs
P:{EID}:tr:TRID:ended           set     ended children of a flowable task run
P:{EID}:tr:TRID:values          list    loop values of a ForEach (or Each*) task run
P:{EID}:tr:TRID                 hash    a task run, its attempts as ``aN:*`` fields, ``h``:
                                        task run and attempt histories (as above); until
                                        an attempt starts, ``mq``/``mp``/``ms`` the last
                                        copy of its message sent (queue, payload, date)
                                        and ``mw`` its worker group once it waits
P:{EID}:tr:TRID:lease           string  holder of the live attempt (``worker_id:token``,
                                        ``base.lease_holder``), with a TTL
P:{EID}:metrics                 list    metric entries, JSON
P:{EID}:logs                    list    log entries, JSON
P:{EID}:events                  stream  every state change (for ``follow``): one entry
                                        per step, ``e`` = JSON list of its changes
P:idx:all / P:idx:flow:NS:ID    zset    execution ids by creation time
P:idx:state:STATE               zset    execution ids by creation time, per state
P:idx:ns:NS / P:idx:under:NS /  zset    execution ids by creation time: of namespace NS, of
P:idx:fid:ID                            NS and its sub-namespaces (one per level: ``a``,
                                        ``a.b`` for ``a.b``), of flow id ID (any namespace)
SCOPE:state:STATE               zset    per state, for each scope above and the flow's
                                        (``P:idx:flow:NS:ID:state:STATE``): the search
                                        pages the filters by namespace, flow and state
                                        with one range (``search_page``)
P:idx:label:N:KEY=VALUE         zset    execution ids by creation time, per label (N: the
                                        byte length of KEY, so any KEY and VALUE are one key)
P:tmp:search:TOKEN              zset    a search's intersection, deleted in the same MULTI
P:idx:ended                     zset    execution ids by end time (the retention sweep
                                        deletes them, see ``purge.lua``)
P:{EID}:subflows                set     executions started by this one's Subflow tasks
P:conc:NS:ID / P:concq:NS:ID    set/list executions holding a concurrency slot / queued
P:concflows                     set     flows with a limit
P:active                        zset    ``EID|TRID`` of unfinished task runs, by deadline
P:reconciler:lock               string  held by the one process sweeping ``P:active``
P:reconciler:last               string  when a sweep last ran (epoch seconds; ``/health``)
P:workers                       zset    worker node names, by when each was last seen alive
                                        (its main process, every sweep interval; a day kept)
P:workers:queues                zset    queues those workers consume, by when last seen
P:active:fails                  hash    ``EID|TRID`` -> failed sweeps of that entry in a
                                        row (the reconciler backs it off)
P:deadletter                    list    poison queue messages, JSON, newest first
                                        (``executor/broker.py``; OSTRA_DEAD_LETTER_MAX)
P:trig:NS|FLOW|TRIGGER          hash    a trigger's state: ``type``, ``date``/``eid`` (last
                                        fire, epoch s, and its execution), ``fired``
                                        (count), ``error``/``errorDate``, ``disabled``
                                        ("1" when a user disabled it), other fields of
                                        the trigger kinds (``executor/triggers/``)
P:trigs                         set     uids (``NS|FLOW|TRIGGER``) of triggers with a state
P:flowtrig:listeners            set     ``NS:ID`` of flows with an enabled Flow trigger (kept
                                        by deploy and delete, ``flow_listens``)
P:flowtrig:states               zset    ``STATE|NS:ID`` (score 0) for each state other
                                        than ends (PAUSED, RUNNING...) that an enabled Flow
                                        trigger of flow NS:ID lists in ``states`` (kept by
                                        deploy and delete, ``listened_states``); a step
                                        asks "does any flow listen to STATE?" with one
                                        ZRANGEBYLEX ``[STATE|`` .. ``(STATE}``
P:flowtrig:ends                 stream  state changes Flow triggers may react to: ends of
                                        executions while some flow listens, moves to
                                        another state while some flow lists it: ``eid``,
                                        ``ns``, ``fid``, ``rev``, ``s`` (state), ``d``; read by
                                        the consumer group ``flowtrig``, MAXLEN ~ 100000
P:flowtrig:win:UID|MID          hash    a multiple condition's window (``start``, ``end``,
                                        ``c:NAME`` per condition met) of trigger UID's
                                        condition MID; expires at the window's end
P:flowtrig:seen:UID|MID:ENTRY   string  what stream entry ENTRY made of that window ("1":
                                        complete), so an entry evaluated again after a crash
                                        gives the same answer; a TTL of a day
P:{due:Q}                       zset    due queue Q (``sched``: schedules' next ticks,
                                        ``backfill``: backfills' next steps, ``sla``:
                                        MAX_DURATION deadlines, ``EID|INDEX``): trigger
                                        uid -> when it is due (epoch s)
P:{due:Q}:tick                  hash    uid -> the tick (epoch s) it is at
P:{due:Q}:claimed               zset    uid -> lease deadline (epoch s) of the process
                                        firing it (``due_claim.lua``); lapsed claims go
                                        back to P:{due:Q}
P:{due:sched}:ran:UID           zset    ticks the schedule UID fired (score = member =
                                        tick), the newest OSTRA_SCHEDULE_TICKS_KEPT
P:backfill:UID                  hash    the backfill of trigger UID: ``start``/``end``/
                                        ``current`` (ticks), ``total``/``done``/``fired``,
                                        ``paused``, ``status``, ``inputs``/``labels``
                                        (JSON), ``rerun``, ``rate``, ``id``, ``created``
P:kv:{TENANT:NS}                zset    KV keys of a namespace, by expiry (ms, +inf: none)
P:kv:{TENANT:NS}:KEY            hash    a KV entry: ``v`` JSON value, ``t`` type, ``c``/``u``
                                        created/updated (epoch ms), ``x`` expiry; a TTL
==============================  ======  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key names under ``prefix``."""

    prefix: str = "ostra"

    # flows
    def flow(self, namespace: str, flow_id: str) -> str:
        return f"{self.prefix}:flow:{namespace}:{flow_id}"

    def flow_revision(self, namespace: str, flow_id: str, revision: int) -> str:
        return f"{self.prefix}:flow:{namespace}:{flow_id}:{revision}"

    def flow_source(self, namespace: str, flow_id: str, revision: int) -> str:
        return f"{self.prefix}:flow:{namespace}:{flow_id}:{revision}:source"

    @property
    def flows(self) -> str:
        return f"{self.prefix}:flows"

    # one execution
    def execution(self, eid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:exec"

    def execution_events(self, eid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:exec:ev"

    def task_runs(self, eid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:trs"

    def task_run_keys(self, eid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:trkey"

    def value_index(self, eid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:tv"

    def flowables(self, eid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:flowables"

    def children_ended(self, eid: str, trid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:tr:{trid}:ended"

    def loop_values(self, eid: str, trid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:tr:{trid}:values"

    def task_run(self, eid: str, trid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:tr:{trid}"

    def lease(self, eid: str, trid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:tr:{trid}:lease"

    def metrics(self, eid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:metrics"

    def logs(self, eid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:logs"

    def log_budget(self, eid: str) -> str:
        """What each task run used of its log budget (``append_log.lua``)."""
        return f"{self.prefix}:{{{eid}}}:logs:used"

    def events(self, eid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:events"

    # indexes
    @property
    def index_all(self) -> str:
        return f"{self.prefix}:idx:all"

    def index_flow(self, namespace: str, flow_id: str) -> str:
        return f"{self.prefix}:idx:flow:{namespace}:{flow_id}"

    def index_state(self, state: str) -> str:
        return f"{self.prefix}:idx:state:{state}"

    def index_namespace(self, namespace: str) -> str:
        return f"{self.prefix}:idx:ns:{namespace}"

    def index_under(self, level: str) -> str:
        return f"{self.prefix}:idx:under:{level}"

    def index_flow_id(self, flow_id: str) -> str:
        return f"{self.prefix}:idx:fid:{flow_id}"

    @staticmethod
    def index_scoped_state(scope: str, state: str) -> str:
        """The per-state index of scope index ``scope`` (one of ``scopes``)."""
        return f"{scope}:state:{state}"

    def scopes(self, namespace: str, flow_id: str) -> list[str]:
        """The scope indexes an execution of flow ``namespace.flow_id`` is in (besides
        ``index_all``): its flow, namespace, each namespace level, its flow id. Each has
        its per-state indexes (``index_scoped_state``), kept by every state move."""
        parts = namespace.split(".")
        return [
            self.index_flow(namespace, flow_id),
            self.index_namespace(namespace),
            *(self.index_under(".".join(parts[: i + 1])) for i in range(len(parts))),
            self.index_flow_id(flow_id),
        ]

    def index_label(self, key: str, value: str) -> str:
        return f"{self.prefix}:idx:label:{label_id(key, value)}"

    def search_temp(self, token: str) -> str:
        return f"{self.prefix}:tmp:search:{token}"

    @property
    def index_ended(self) -> str:
        return f"{self.prefix}:idx:ended"

    def concurrency_running(self, namespace: str, flow_id: str) -> str:
        return f"{self.prefix}:conc:{namespace}:{flow_id}"

    def concurrency_queue(self, namespace: str, flow_id: str) -> str:
        return f"{self.prefix}:concq:{namespace}:{flow_id}"

    @property
    def concurrency_flows(self) -> str:
        return f"{self.prefix}:concflows"

    def subflows(self, eid: str) -> str:
        return f"{self.prefix}:{{{eid}}}:subflows"

    @property
    def active(self) -> str:
        return f"{self.prefix}:active"

    @property
    def active_failures(self) -> str:
        return f"{self.prefix}:active:fails"

    @property
    def reconciler_lock(self) -> str:
        return f"{self.prefix}:reconciler:lock"

    @property
    def reconciler_last_sweep(self) -> str:
        return f"{self.prefix}:reconciler:last"

    @property
    def workers(self) -> str:
        return f"{self.prefix}:workers"

    @property
    def worker_queues(self) -> str:
        return f"{self.prefix}:workers:queues"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}:deadletter"

    # triggers
    def trigger(self, uid: str) -> str:
        return f"{self.prefix}:trig:{uid}"

    @property
    def triggers(self) -> str:
        return f"{self.prefix}:trigs"

    # Flow triggers
    @property
    def flow_listeners(self) -> str:
        return f"{self.prefix}:flowtrig:listeners"

    @property
    def flow_state_listeners(self) -> str:
        return f"{self.prefix}:flowtrig:states"

    @property
    def flow_ends(self) -> str:
        return f"{self.prefix}:flowtrig:ends"

    def flow_window(self, uid: str) -> str:
        return f"{self.prefix}:flowtrig:win:{uid}"

    def flow_window_seen(self, uid: str, entry: str) -> str:
        return f"{self.prefix}:flowtrig:seen:{uid}:{entry}"

    # due queues: a queue's keys share the ``{due:Q}`` hash tag (one Lua step uses them)
    def due(self, queue: str) -> str:
        return f"{self.prefix}:{{due:{queue}}}"

    def due_tick(self, queue: str) -> str:
        return f"{self.prefix}:{{due:{queue}}}:tick"

    def due_claimed(self, queue: str) -> str:
        return f"{self.prefix}:{{due:{queue}}}:claimed"

    def ticks_ran(self, uid: str) -> str:
        return f"{self.prefix}:{{due:sched}}:ran:{uid}"

    def backfill(self, uid: str) -> str:
        return f"{self.prefix}:backfill:{uid}"

    # KV store: a namespace's keys share the ``{tenant:namespace}`` hash tag

    def kv_index(self, tenant: str, namespace: str) -> str:
        return f"{self.prefix}:kv:{{{tenant}:{namespace}}}"

    def kv_entry(self, tenant: str, namespace: str, key: str) -> str:
        return f"{self.prefix}:kv:{{{tenant}:{namespace}}}:{key}"


def identity(
    task_id: str,
    parent_task_run_id: str | None = None,
    value: str | None = None,
    iteration: int | None = None,
) -> str:
    """What makes a task run unique within an execution (Kestra's ``TaskRun.isSame``)."""
    base = f"{task_id}|{parent_task_run_id or ''}|{value if value is not None else ''}"
    return base if iteration is None else f"{base}#{iteration}"


def active_member(eid: str, trid: str) -> str:
    return f"{eid}|{trid}"


def label_id(key: str, value: str) -> str:
    """A label as one string, ``N:KEY=VALUE`` (N: the byte length of KEY), as ``labels.lua``
    and ``purge.lua`` build it to find its index key among the keys they were given."""
    return f"{len(key.encode())}:{key}={value}"
