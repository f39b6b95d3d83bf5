from edge_agent.outbox import Outbox


def test_persist_order_ack_and_reopen(tmp_path):
    path = tmp_path / "ob.db"
    ob = Outbox(path)
    ob.commit([("e1", "t", b"1"), ("e2", "t", b"2")], snapshot={"state": "in_flight"}, mission=("m1", "abc"))
    ob.commit([("e3", "t", b"3")], command_id="c1")
    ob.commit([("e1", "t", b"dup")])  # same envelope id: ignored
    assert [p.id for p in ob.pending()] == ["e1", "e2", "e3"]
    first = ob.pending()[0]
    ob.ack(first.rowid)
    assert ob.next_seq() == 0 and ob.next_seq(5) == 1 and ob.next_seq() == 6
    ob.close()

    ob = Outbox(path)
    pend = ob.pending()
    assert [(p.id, p.payload) for p in pend] == [("e2", b"2"), ("e3", b"3")]
    assert ob.pending_count() == 2
    assert ob.active_snapshot() == {"state": "in_flight"}
    assert ob.mission_digest("m1") == "abc" and ob.mission_digest("m2") is None
    assert ob.command_seen("c1") and not ob.command_seen("c2")
    ob.commit(snapshot=None, outcome=("m1", "completed"))
    assert ob.active_snapshot() is None and ob.mission_outcome("m1") == "completed"
    assert ob.pending_count() == 2  # snapshot-only commits leave the events alone
    ob.ack(pend[0].rowid)
    ob.ack(pend[1].rowid)
    assert ob.pending() == [] and ob.next_seq() == 7


def test_commit_is_atomic(tmp_path):
    ob = Outbox(tmp_path / "ob.db")
    try:
        ob.commit([("e1", "t", b"1")], snapshot={"x": object()})  # not JSON: the whole commit fails
    except TypeError:
        pass
    assert ob.pending() == [] and ob.active_snapshot() is None
