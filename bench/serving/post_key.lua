-- wrk script: POST the JSON body in BODY with the API key in KEY (X-API-Key).
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = os.getenv("KEY")
