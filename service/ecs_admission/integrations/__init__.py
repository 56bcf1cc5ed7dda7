"""Where deploys happen: the remote-gate client and the CodePipeline Lambda handler."""
