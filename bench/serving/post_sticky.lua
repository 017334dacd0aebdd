-- wrk script: POST the JSON body in BODY, each request from one of 100,000 users (X-User-Id).
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
request = function()
  wrk.headers["X-User-Id"] = "user-" .. math.random(1, 100000)
  return wrk.format()
end
