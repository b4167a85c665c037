wrk.method = "POST"
wrk.body = '{"message":"hello there"}'
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer demo-bench"
