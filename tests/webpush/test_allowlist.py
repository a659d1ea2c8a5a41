import pytest

from pushgate.webpush.allowlist import EndpointPolicy, EndpointRejected


@pytest.mark.parametrize(
    ("extra", "endpoint", "allowed"),
    [
        ("127.0.0.1:8090", "http://127.0.0.1:8090/push/1", True),
        ("127.0.0.1:8090", "http://127.0.0.1:8091/push/1", False),
        ("127.0.0.1:8090", "http://127.0.0.1/push/1", False),
        ("push.local", "http://push.local/p", True),  # no port: the scheme's default
        ("push.local", "https://push.local/p", True),
        ("push.local", "http://push.local:8080/p", False),
        ("[::1]:8090", "http://[::1]:8090/push/1", True),
        ("127.0.0.1:8090", "http://user@127.0.0.1:8090/push/1", False),
        ("127.0.0.1:8090", "http://0x7f.0.0.1:8090/push/1", False),
        ("127.0.0.1:8090", "http://0177.0.0.1:8090/push/1", False),
        ("127.0.0.1:8090", "ftp://127.0.0.1:8090/push/1", False),
    ],
)
def test_extra_hosts_match_host_and_port_exactly(extra, endpoint, allowed):
    policy = EndpointPolicy([extra])
    if allowed:
        assert policy.check(endpoint) == endpoint
    else:
        with pytest.raises(EndpointRejected):
            policy.check(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://notify.windows.com/x",  # the suffix alone is not a WNS host
        "https://evil.com/.notify.windows.com",
        "https://a..notify.windows.com/x",
        "https://fcm.googleapis.com\\@evil.example/",
        "https://fcm.googleapis.com /x",
        "https://FCM.googleapis.com:444/x",
        "https://" + "a" * 3000,
    ],
)
def test_tricky_endpoints_are_refused(endpoint):
    with pytest.raises(EndpointRejected):
        EndpointPolicy().check(endpoint)


def test_uppercase_and_trailing_dot_known_host_is_accepted():
    assert EndpointPolicy().check("https://FCM.googleapis.com./fcm/send/a")
