import pytest

from tests.support.nodeproc import NodeProcess


@pytest.fixture
def node_factory(tmp_path):
    """Start real photon-node processes; every one is stopped at the end of the test."""
    started: list[NodeProcess] = []

    def start(node_id: str = "n1", ready: bool = True, **kwargs) -> NodeProcess:
        data_dir = kwargs.pop("data_dir", tmp_path / node_id / "data")
        node = NodeProcess(data_dir=data_dir, node_id=node_id, **kwargs).start()
        started.append(node)
        return node.wait_ready() if ready else node

    yield start
    for node in started:
        if node.proc is not None and node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait(10)


@pytest.fixture
def node(node_factory) -> NodeProcess:
    return node_factory()


@pytest.fixture
async def http():
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


_CALL_FAILED = pytest.StashKey[bool]()  # did the test itself fail (read by fixtures' teardown)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


@pytest.fixture
def cluster(request, tmp_path):
    """A multi-process cluster on loopback; every process is killed at the end of the test.
    When the test fails, the last lines each node logged are printed with the failure."""
    from tests.support.cluster import Cluster

    made = Cluster(tmp_path)
    yield made
    if request.node.stash.get(_CALL_FAILED, False):
        for node_id, node in made.nodes.items():
            lines = node.log().splitlines()
            print(f"== {node_id}: the last {min(len(lines), 40)} log lines", *lines[-40:], sep="\n")
    for node in made.nodes.values():
        if node.proc is not None and node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait(10)
    for link in made.links.values():
        link.close()
