"""IAM policy documents, AWS managed policies and partitions: shared by inputs/ (templates, role facts
sent with a request) and facts/ (what the roles allow), so it sits below both."""
