"""Live AWS collector: reads security groups, instances and networks through the EC2 API.

fetch.py talks to AWS (sessions, regions, paginators, retries), convert.py turns the API
shapes into a model Collection, snapshot.py writes the stable JSON files findings point at.
"""
