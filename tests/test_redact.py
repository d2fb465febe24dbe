from envforge.redact import redact


def test_userinfo_and_tokens_are_removed() -> None:
    text = "pip --index-url https://alice:s3cr3t@pkgs.example/simple and https://tok@h/x?token=abc&v=1"
    out = redact(text)
    assert "s3cr3t" not in out and "alice" not in out and "abc" not in out and "tok@" not in out
    assert "https://***@pkgs.example/simple" in out and "v=1" in out


def test_plain_urls_are_untouched() -> None:
    assert redact("http://127.0.0.1:5000/api") == "http://127.0.0.1:5000/api"


def test_conda_channel_tokens_are_removed() -> None:
    out = redact("channel https://conda.anaconda.org/t/tk-1234-abcd/my-channel/linux-64/repodata.json failed")
    assert "tk-1234-abcd" not in out and "https://conda.anaconda.org/t/***/my-channel/linux-64" in out
    assert redact("https://host/t/$TOKEN/ch") == "https://host/t/$TOKEN/ch"  # a placeholder is no secret
