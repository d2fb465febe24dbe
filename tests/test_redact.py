from envforge.redact import redact


def test_userinfo_and_tokens_are_removed() -> None:
    text = "pip --index-url https://alice:s3cr3t@pkgs.example/simple and https://tok@h/x?token=abc&v=1"
    out = redact(text)
    assert "s3cr3t" not in out and "alice" not in out and "abc" not in out and "tok@" not in out
    assert "https://***@pkgs.example/simple" in out and "v=1" in out


def test_plain_urls_are_untouched() -> None:
    assert redact("http://127.0.0.1:5000/api") == "http://127.0.0.1:5000/api"
