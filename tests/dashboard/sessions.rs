//! Dashboard sessions: login sets a signed cookie, every action needs the CSRF token, logout ends it.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_a_cookie_and_every_action_needs_the_csrf_token() {
    const TOKEN: &str = "dash-secret-token";
    let redis = TestRedis::start();
    let dir = plugin_dir(&["chaos"]);
    let host = Host::start_with_env(
        "login-host",
        &redis.url(),
        dir.path(),
        &[],
        &[("DECKHAND_API_TOKEN", TOKEN)],
    );
    let mut api = Api::new(&host);
    api.token = Some(TOKEN.into());
    api.ready(&host).await;
    let (s, b) = api
        .post("/v1/jobs", json!({"job_type": "chaos.fail", "payload": {"error": "fail"}, "id": "d1", "max_retries": 0}))
        .await;
    assert_eq!(s, 201, "{b}");
    api.wait(&["d1"]).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = host.api.clone();

    // No session: the page sends the browser to the login form; the API refuses.
    let r = http.get(format!("{base}/ui/")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/login");
    let r = http
        .get(format!("{base}/v1/overview"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let login = http.get(format!("{base}/ui/login")).send().await.unwrap();
    assert_eq!(login.status(), 200);
    assert!(
        login.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(login.text().await.unwrap().contains("name=\"token\""));

    // A wrong token: 401 and the form again, no cookie.
    let r = http
        .post(format!("{base}/ui/login"))
        .form(&[("token", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(session_cookie(&r).is_none());
    assert!(r.text().await.unwrap().contains("not the API token"));
    // A login form posted from another site is refused before it is read.
    let r = http
        .post(format!("{base}/ui/login"))
        .header("origin", "http://evil.example")
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(session_cookie(&r).is_none());

    // The right token: an HttpOnly, SameSite=Strict cookie and the page.
    let r = http
        .post(format!("{base}/ui/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    let cookie = session_cookie(&r).unwrap();
    let r = http
        .get(format!("{base}/ui/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("/ui/app.js"));
    let session: Value = http
        .get(format!("{base}/ui/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = session["csrf"].as_str().unwrap().to_string();
    assert_eq!(session["open"], false);
    let r = http
        .get(format!("{base}/v1/overview"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Actions with the cookie but without the CSRF token, a wrong one, a
    // form post, or from another origin: 403, and the dead job stays dead.
    let purge = format!("{base}/v1/dlq/purge");
    let attempts = [
        http.post(&purge)
            .header("cookie", &cookie)
            .json(&json!({"all": true})),
        http.post(&purge)
            .header("cookie", &cookie)
            .header("x-csrf-token", "0".repeat(32))
            .json(&json!({"all": true})),
        http.post(&purge)
            .header("cookie", &cookie)
            .form(&[("all", "true")]),
        http.post(&purge)
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("origin", "http://evil.example")
            .json(&json!({"all": true})),
        http.post(&purge)
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .header("sec-fetch-site", "cross-site")
            .json(&json!({"all": true})),
    ];
    for (i, req) in attempts.into_iter().enumerate() {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 403, "attempt {i}");
        let body: Value = r.json().await.unwrap();
        assert!(
            ["csrf", "cross_origin"].contains(&code(&body)),
            "attempt {i}: {body}"
        );
    }
    let (_, dlq) = api.get("/v1/dlq").await;
    assert_eq!(dlq["total"], 1, "nothing was purged: {dlq}");

    // An expired session (signed with the same token, issued 13 hours ago)
    // and a tampered one: 401; the page goes to the login form, saying so.
    let now = deckhand::queue::now_ms();
    let expired = format!(
        "deckhand_session={}",
        Sessions::new(TOKEN).issue(now - 13 * 3600 * 1000)
    );
    let r = http
        .get(format!("{base}/v1/overview"))
        .header("cookie", &expired)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(code(&r.json().await.unwrap()), "session_expired");
    let r = http
        .get(format!("{base}/ui/"))
        .header("cookie", &expired)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/ui/login?expired=1");
    let page = http
        .get(format!("{base}/ui/login?expired=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("session has expired"));
    let other = format!(
        "deckhand_session={}",
        Sessions::new("another-token").issue(now)
    );
    let r = http
        .get(format!("{base}/v1/overview"))
        .header("cookie", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // With the token: the action goes through.
    let r = http
        .post(&purge)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", &base)
        .json(&json!({"ids": ["d1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, dlq) = api.get("/v1/dlq").await;
    assert_eq!(dlq["total"], 0);

    // Logging out clears the cookie.
    let r = http
        .post(format!("{base}/ui/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
}
