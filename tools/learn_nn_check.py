#!/usr/bin/env python3
"""Is the sports100 test split easier than the pool? 1-nearest-neighbour (cosine) label
agreement test->pool vs pool->pool on tools/learn_embed.py output.
usage: /usr/bin/python3 tools/learn_nn_check.py PREFIX"""
import sys
import numpy as np, csv
rows=list(csv.DictReader(open(sys.argv[1] + '.csv'))); m=len(rows)
x=np.fromfile(sys.argv[1] + '.f32',np.float32,m*1280).reshape(m,1280)
lab=np.array([r['label'] for r in rows]); sp=np.array([r['split'] for r in rows])
xn=x/np.linalg.norm(x,axis=1,keepdims=True)
P=xn[sp=='pool']; T=xn[sp=='test']; lp=lab[sp=='pool']; lt=lab[sp=='test']
S=T@P.T; nnT=S.max(1); same=(lp[S.argmax(1)]==lt)
SP=P@P.T; np.fill_diagonal(SP,-1); nnP=SP.max(1); sameP=(lp[SP.argmax(1)]==lp)
for name,v,s in (('test->pool',nnT,same),('pool->pool',nnP,sameP)):
    print(name,'median max cos %.3f'%np.median(v),'frac>0.95 %.3f'%(v>0.95).mean(),'frac>0.9 %.3f'%(v>0.9).mean(),'1-NN acc %.3f'%s.mean())
