"""Store.data_version: the Results page's cache key changes with every change of a campaign's data."""

from __future__ import annotations

from campaigns.simulate import SimulationConfig, simulate
from campaigns.store import Store


def test_data_version_follows_every_change_of_the_data(store: Store) -> None:
    truth = simulate(store, SimulationConfig(participants=6, seed=1, name="V"))
    other = simulate(store, SimulationConfig(participants=3, seed=2, name="W"))
    first = store.data_version(truth.campaign_id)
    assert store.data_version("V") == first  # same data, same version
    versions = [first]

    victim = str(store.load("V").participants["participant_id"].iloc[0])
    store.erase_participant(victim)
    versions.append(store.data_version("V"))

    participant = store.add_participant("V", "test-1", answers={"age": "18-24"})
    versions.append(store.data_version("V"))
    store.add_feedback(participant.id, "A", 4)
    versions.append(store.data_version("V"))
    store.close_campaign("V")
    versions.append(store.data_version("V"))
    assert len(set(versions)) == len(versions), versions

    before = store.data_version(other.campaign_id)
    store.erase_participant(str(store.load("W").participants["participant_id"].iloc[0]))
    assert store.data_version(other.campaign_id) != before
    assert store.data_version("V") == versions[-1]  # another campaign's change leaves it alone
