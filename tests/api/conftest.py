import pytest

from tests.conftest import Gateway


@pytest.fixture
def gateway(module_gateway: Gateway) -> Gateway:
    """API validation needs no push service: the tests here share one gateway process."""
    return module_gateway
