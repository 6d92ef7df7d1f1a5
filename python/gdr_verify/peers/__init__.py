"""The peers' decode kernels as gdr_verify subjects, loaded from their installed packages
(never copied here) and presented through docs/SPEC.md's interface:

    gdr_verify.peers.lmdeploy:subject   lmdeploy's TileLang fused_recurrent_gated_delta_rule
    gdr_verify.peers.fla:subject        fla's Triton fused_recurrent_gated_delta_rule

Each module imports its peer when it is imported (an ImportError says what is missing), so
`python -m gdr_verify verify --subject gdr_verify.peers.fla:subject` works as a CI gate.
Each subject declares what its kernel does not do (NOT_SUPPORTED, never INCORRECT) and its
math mode (both compile exp with fast-math approximations). bench/peers/README.md and
peers/FINDINGS.md say what was found running them.
"""
