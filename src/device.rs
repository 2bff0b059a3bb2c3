//! Human names for User-Agents: "Firefox on Linux", "Safari on iPhone".

/// A short, human name for the browser and system of a User-Agent, as shown
/// in "Your devices". Parsed with the `woothee` crate.
///
/// ```
/// use axum_user_sessions::device_name;
/// let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
/// assert_eq!(device_name(Some(ua)), "Firefox on Linux");
/// assert_eq!(device_name(None), "Unknown device");
/// ```
pub fn device_name(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|u| !u.trim().is_empty()) else {
        return "Unknown device".into();
    };
    let parsed = woothee::parser::Parser::new().parse(ua);
    let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
    match parsed {
        Some(r) if known(r.name) && known(r.os) => format!("{} on {}", r.name, os_name(r.os)),
        Some(r) if known(r.name) => r.name.to_owned(),
        Some(r) if known(r.os) => format!("Unknown browser on {}", os_name(r.os)),
        _ => "Unknown device".into(),
    }
}

fn os_name(os: &str) -> &str {
    match os {
        "Mac OSX" => "macOS",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn common_browsers() {
        let cases = [
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on Windows 10",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
                "Safari on macOS",
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
        ];
        for (ua, want) in cases {
            assert_eq!(device_name(Some(ua)), want, "{ua}");
        }
        assert_eq!(device_name(Some("")), "Unknown device");
        assert_eq!(device_name(Some("\u{0}garbage\u{7f}")), "Unknown device");
    }
}
