"""AWS: security groups, network ACLs and instances, whichever input describes them.

``security_groups`` builds the model layers every AWS input shares; ``terraform`` maps the
evaluated Terraform resources (``tf_common``, ``tf_groups``, ``tf_network``, ``tf_compute``);
the live EC2 collector (``collectors.aws_live``) and the plan reader use the same pieces.
"""
