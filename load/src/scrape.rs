//! Reads a gateway's Prometheus `/metrics` over plain HTTP/1.1 on the target's host and
//! port (ws:// targets only, which [`crate::target`] keeps on loopback), and sums samples
//! of one metric name.

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::target::Target;

/// `host:port` of a `ws://` target.
pub fn authority(target: &Target) -> anyhow::Result<String> {
    let Some(rest) = target.base.strip_prefix("ws://") else {
        bail!("{}: /metrics is read from ws:// targets only", target.base);
    };
    Ok(rest.split('/').next().unwrap_or(rest).to_owned())
}

/// The body of `GET /metrics` on the target.
pub async fn metrics(target: &Target) -> anyhow::Result<String> {
    let host = authority(target)?;
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .with_context(|| format!("connecting to {host} for /metrics"))?;
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let raw = String::from_utf8(raw).context("/metrics is not UTF-8")?;
    let Some((head, body)) = raw.split_once("\r\n\r\n") else {
        bail!("{host}/metrics: no HTTP header end");
    };
    if !head.starts_with("HTTP/1.1 200") {
        bail!(
            "{host}/metrics: {}",
            head.lines().next().unwrap_or_default()
        );
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return dechunk(body);
    }
    Ok(body.to_owned())
}

fn dechunk(mut body: &str) -> anyhow::Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("truncated chunk")?;
        let size = usize::from_str_radix(size.trim(), 16).context("bad chunk size")?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..size).context("truncated chunk")?);
        body = rest.get(size + 2..).context("truncated chunk")?;
    }
}

/// The sum of every sample named exactly `name` (any labels).
pub fn sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let metric = series.split('{').next()?;
            (metric == name).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// The sum of samples named `name` whose labels include `label="value"`.
pub fn sum_with(text: &str, name: &str, label: &str, value: &str) -> f64 {
    let needle = format!("{label}=\"{value}\"");
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(&needle))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            (series.split('{').next()? == name).then(|| v.parse::<f64>().ok())?
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE a counter\n\
        collab_diagnostics_parses_total{language=\"typescript\",outcome=\"ok\"} 5\n\
        collab_diagnostics_parses_total{language=\"typescript\",outcome=\"timed-out\"} 2\n\
        collab_diagnostics_parse_seconds_sum{language=\"typescript\"} 0.25\n\
        collab_diagnostics_parse_seconds_count{language=\"typescript\"} 7\n\
        collab_diagnostics_cache_total{outcome=\"claimed\"} 3\n";

    #[test]
    fn sums_by_name_and_label() {
        assert_eq!(sum(TEXT, "collab_diagnostics_parses_total"), 7.0);
        assert_eq!(sum(TEXT, "collab_diagnostics_parse_seconds_sum"), 0.25);
        assert_eq!(sum(TEXT, "collab_diagnostics_parse_seconds"), 0.0);
        assert_eq!(
            sum_with(
                TEXT,
                "collab_diagnostics_parses_total",
                "outcome",
                "timed-out"
            ),
            2.0
        );
        assert_eq!(
            dechunk("4\r\nabcd\r\n2\r\nef\r\n0\r\n\r\n").unwrap(),
            "abcdef"
        );
    }
}
